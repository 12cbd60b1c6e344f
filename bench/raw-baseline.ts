/**
 * The raw pipeline: what a plain script would do to get a OneDrive drive into
 * EchoMind, written without any of the service's modules (no provider, no
 * transferItem, no kysely, no logger), so that the service's CPU per file can
 * be compared with the work itself, our per-file code included. It uses the
 * same libraries a script would: fetch for Graph, the minio client to presign
 * each PUT and node:http to stream the body into it,
 * `pg` for PostgreSQL, the NATS client for JetStream, and the message schema
 * generated from the contract's .proto (`src/gen`, the wire format itself).
 *
 * Per delta page (`$top` 200 and the service's `$select`, as the service asks):
 * one SELECT of the page's known rows (to skip unchanged files), then per file,
 * `concurrency` in flight: GET `/content` (following its redirect), PUT the body
 * to the bucket as it arrives, one INSERT … ON CONFLICT DO UPDATE … RETURNING id,
 * one JetStream publish of the DocumentProcessRequest with a message id. Then
 * one UPDATE of the connector's cursor. What the service does on top, and this
 * script does not: it hashes each body (sha256), writes one log line per file,
 * records the publication in a second row write, looks the known rows up once
 * more per batch, and runs inside Temporal activities.
 *
 * With `RAW_HTTP_CLIENT=undici` (`--env RAW_HTTP_CLIENT=undici`) the Graph GETs go through
 * undici's `request` instead of fetch, the client the service's source HTTP layer uses, so the
 * ratio can be read without the difference between the two clients.
 *
 * Forked by bench/run.ts with `--baseline raw` (its own process); driven over IPC
 * like bench/baseline.ts.
 */
import { request as httpRequest } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { create, toBinary } from '@bufbuild/protobuf';
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import * as Minio from 'minio';
import { request as undiciRequest } from 'undici';

const useUndici = process.env.RAW_HTTP_CLIENT === 'undici';
import pg from 'pg';
import { DocumentProcessRequestSchema } from '../src/gen/echomind/internal/connector_sync_pb.js';
import type { BaselineResult, BaselineRun } from './baseline.js';
import { serveRequests } from './child.js';

const env = process.env;
const need = (name: string): string => {
  const value = env[name];
  if (!value) throw new Error(`raw baseline: ${name} is not set`);
  return value;
};

const graphBase = need('MS_GRAPH_BASE_URL').replace(/\/+$/, '');
const pool = new pg.Pool({ connectionString: need('DATABASE_URL'), max: 10 });
const endpoint = new URL(/^https?:\/\//.test(need('MINIO_ENDPOINT')) ? need('MINIO_ENDPOINT') : `http://${need('MINIO_ENDPOINT')}`);
const bucket = need('MINIO_BUCKET');
const minio = new Minio.Client({
  endPoint: endpoint.hostname,
  port: Number(endpoint.port || 80),
  useSSL: false,
  accessKey: need('MINIO_ACCESS_KEY'),
  secretKey: need('MINIO_SECRET_KEY'),
  pathStyle: true,
});
if (!(await minio.bucketExists(bucket))) await minio.makeBucket(bucket).catch(() => undefined);
const nats = await connect({ servers: need('NATS_URL'), name: 'echomind-bench-raw-baseline' });
const js = jetstream(nats);

const SELECT = 'id,name,size,file,folder,package,deleted,parentReference,lastModifiedDateTime,cTag,eTag,webUrl,root,malware';

let token: { value: string; expiresAt: number } | undefined;
async function accessToken(): Promise<string> {
  if (token && token.expiresAt > Date.now() + 60_000) return token.value;
  const answer = await fetch(`${need('MS_LOGIN_BASE_URL').replace(/\/+$/, '')}/${need('MS_GRAPH_TENANT_ID')}/oauth2/v2.0/token`, {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: need('MS_GRAPH_CLIENT_ID'),
      client_secret: need('MS_GRAPH_CLIENT_SECRET'),
      scope: 'https://graph.microsoft.com/.default',
    }),
  });
  if (!answer.ok) throw new Error(`token: ${answer.status} ${await answer.text()}`);
  const body = (await answer.json()) as { access_token: string; expires_in: number };
  token = { value: body.access_token, expiresAt: Date.now() + body.expires_in * 1000 };
  return token.value;
}

async function graphJson<T>(url: string): Promise<T> {
  if (useUndici) {
    const answer = await undiciRequest(url, { headers: { authorization: `Bearer ${await accessToken()}` } });
    if (answer.statusCode !== 200) throw new Error(`GET ${url}: ${answer.statusCode} ${await answer.body.text()}`);
    return (await answer.body.json()) as T;
  }
  const answer = await fetch(url, { headers: { authorization: `Bearer ${await accessToken()}` } });
  if (!answer.ok) throw new Error(`GET ${url}: ${answer.status} ${await answer.text()}`);
  return (await answer.json()) as T;
}

interface Item {
  id: string;
  name: string;
  size?: number;
  eTag?: string;
  webUrl?: string;
  deleted?: unknown;
  file?: { mimeType?: string };
}

/** GET the bytes (the redirect to the pre-authenticated URL followed, no token sent there) and PUT them to the bucket as they come. */
async function copyToBucket(driveId: string, item: Item, key: string): Promise<void> {
  if (useUndici) return copyToBucketUndici(driveId, item, key);
  const content = await fetch(`${graphBase}/drives/${encodeURIComponent(driveId)}/items/${encodeURIComponent(item.id)}/content`, {
    headers: { authorization: `Bearer ${await accessToken()}` },
    redirect: 'manual',
  });
  const location = content.headers.get('location');
  await content.body?.cancel();
  if (content.status !== 302 || !location) throw new Error(`content of ${item.name}: ${content.status}`);
  const download = await fetch(location);
  const length = download.headers.get('content-length');
  if (!download.ok || !download.body || length === null) throw new Error(`download of ${item.name}: ${download.status}`);
  await putToBucket(key, item, length, Readable.fromWeb(download.body));
}

/** The same with undici's `request` for both GETs. */
async function copyToBucketUndici(driveId: string, item: Item, key: string): Promise<void> {
  const content = await undiciRequest(`${graphBase}/drives/${encodeURIComponent(driveId)}/items/${encodeURIComponent(item.id)}/content`, {
    headers: { authorization: `Bearer ${await accessToken()}` },
  });
  const location = content.headers.location;
  await content.body.dump();
  if (content.statusCode !== 302 || typeof location !== 'string') throw new Error(`content of ${item.name}: ${content.statusCode}`);
  const download = await undiciRequest(location);
  const length = download.headers['content-length'];
  if (download.statusCode !== 200 || typeof length !== 'string') throw new Error(`download of ${item.name}: ${download.statusCode}`);
  await putToBucket(key, item, length, download.body);
}

/** One PUT of the body to a presigned URL, as it arrives. */
async function putToBucket(key: string, item: Item, length: string, body: Readable): Promise<void> {
  const put = httpRequest(new URL(await minio.presignedUrl('PUT', bucket, key, 3600)), {
    method: 'PUT',
    headers: { 'content-type': item.file?.mimeType ?? 'application/octet-stream', 'content-length': length },
  });
  const answer = new Promise<number>((resolve, reject) => {
    put.once('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    put.once('error', reject);
  });
  await pipeline(body, put);
  const status = await answer;
  if (status < 200 || status > 299) throw new Error(`PUT ${key}: ${status}`);
}

async function sync(run: BaselineRun): Promise<BaselineResult> {
  const { rows } = await pool.query<{ user_id: number; config: { drive_id: string }; state: { cursor?: string } | null }>(
    'select user_id, config, state from connectors where id = $1',
    [run.connectorId],
  );
  const connector = rows[0];
  if (!connector) throw new Error(`no connector ${run.connectorId}`);
  const driveId = connector.config.drive_id;
  let link = connector.state?.cursor ?? `${graphBase}/drives/${encodeURIComponent(driveId)}/root/delta?$select=${SELECT}&$top=200`;
  const result: BaselineResult = { pages: 0, listed: 0, transferred: 0, bytes: 0, unchanged: 0 };
  for (;;) {
    const page = await graphJson<{ value: Item[]; '@odata.nextLink'?: string; '@odata.deltaLink'?: string }>(link);
    result.pages++;
    const files = page.value.filter((i) => i.file && !i.deleted);
    result.listed += files.length;
    const known = await pool.query<{ source_id: string; signature: string | null }>(
      'select source_id, signature from documents where connector_id = $1 and source_id = any($2)',
      [run.connectorId, files.map((f) => f.id)],
    );
    const signatures = new Map(known.rows.map((r) => [r.source_id, r.signature]));
    const todo = files.filter((f) => {
      const unchanged = signatures.get(f.id) === f.eTag;
      if (unchanged) result.unchanged++;
      return !unchanged;
    });
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(run.concurrency, todo.length) }, async () => {
        while (next < todo.length) {
          const item = todo[next++] as Item;
          const key = `connectors/${run.connectorId}/${item.id}/${item.name}`;
          await copyToBucket(driveId, item, key);
          const upsert = await pool.query<{ id: string }>(
            `insert into documents (connector_id, source_id, url, original_url, title, content_type, signature, status, last_update)
             values ($1, $2, $3, $4, $5, $6, $7, 'pending', now())
             on conflict (connector_id, source_id) do update set url = excluded.url, original_url = excluded.original_url,
               title = excluded.title, content_type = excluded.content_type, signature = excluded.signature, status = 'pending', last_update = now()
             returning id`,
            [run.connectorId, item.id, key, item.webUrl ?? null, item.name, item.file?.mimeType ?? 'application/octet-stream', item.eTag ?? null],
          );
          const documentId = Number(upsert.rows[0]?.id);
          const payload = toBinary(
            DocumentProcessRequestSchema,
            create(DocumentProcessRequestSchema, { documentId, connectorId: run.connectorId, userId: connector.user_id, minioPath: key, chunkingSession: '' }),
          );
          await js.publish('document.process', payload, { msgID: `doc-${documentId}-${item.eTag ?? ''}` });
          result.transferred++;
          result.bytes += item.size ?? 0;
        }
      }),
    );
    // Once per page, as the service: a script that stops resumes from the last page it finished.
    const cursor = page['@odata.nextLink'] ?? page['@odata.deltaLink'];
    await pool.query('update connectors set state = $2 where id = $1', [run.connectorId, JSON.stringify({ cursor })]);
    if (!page['@odata.nextLink']) break;
    link = page['@odata.nextLink'];
  }
  return result;
}

serveRequests<BaselineRun | { op: 'close' }>(sync, () => Promise.all([nats.drain(), pool.end()]));
