import { createHash } from 'node:crypto';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import * as Minio from 'minio';
import type { Config } from '../config.js';
import { PermanentSourceError, SourceProtocolError } from '../errors.js';
import { PresigningClient } from './put-url-signer.js';

/**
 * The S3-compatible bucket shared with the ingestor. Bodies are streamed, never
 * held whole: the multipart part size bounds memory per transfer.
 */

export interface StoredObject {
  key: string;
  size: number;
  sha256: string;
}

export class FileTooLargeError extends PermanentSourceError {
  constructor(limit: number) {
    super(`file is larger than the ${formatBytes(limit)} size cap (MAX_FILE_SIZE_BYTES)`, 'fileTooLarge', 'item');
  }
}

/** Codes of our own object store failing as a whole (down, overloaded, misconfigured): never one file's fault. */
const STORE_UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH',
  'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT',
  'InternalError', 'ServiceUnavailable', 'SlowDown', 'RequestTimeout', 'AccessDenied', 'InvalidAccessKeyId',
  'SignatureDoesNotMatch', 'NoSuchBucket', 'ExpiredToken', 'InvalidToken', 'XMinioServerNotInitialized',
]);

/**
 * The object store failed an operation. `unavailable`: it fails for everything
 * (connection refused, 5xx, credentials or bucket wrong); otherwise it refused
 * this one object (e.g. an S3 error like MalformedXML or EntityTooLarge).
 */
export class StorageError extends Error {
  override readonly name = 'StorageError';
  constructor(
    message: string,
    readonly code: string,
    readonly unavailable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  static from(e: unknown, operation: string): StorageError {
    if (e instanceof StorageError) return e;
    const err = e as { code?: unknown; statusCode?: unknown; message?: unknown; cause?: { code?: unknown } };
    const code = typeof err?.code === 'string' ? err.code : typeof err?.cause?.code === 'string' ? err.cause.code : 'unknown';
    const status = typeof err?.statusCode === 'number' ? err.statusCode : undefined;
    const unavailable = STORE_UNAVAILABLE_CODES.has(code) || (status !== undefined && status >= 500) || code === 'unknown';
    const detail = typeof err?.message === 'string' ? err.message : String(e);
    return new StorageError(`the object store failed to ${operation} (${code}: ${detail})`, code, unavailable, { cause: e });
  }
}

export function formatBytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(1)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

/** Counts, hashes and caps the bytes flowing through it. */
export class MeteredStream extends Transform {
  bytes = 0;
  private readonly hash = createHash('sha256');
  constructor(
    private readonly limit: number,
    private readonly onProgress?: (bytes: number) => void,
  ) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.limit) {
      done(new FileTooLargeError(this.limit));
      return;
    }
    this.hash.update(chunk);
    this.onProgress?.(this.bytes);
    done(null, chunk);
  }
  digest(): string {
    return this.hash.digest('hex');
  }
}

/** Bytes of one upload part: a body of unknown length up to this size is held whole and sent as one PUT, a longer one in parts of this size. */
export const UPLOAD_PART_BYTES = 8 * 1024 * 1024;

/** S3 takes up to 5 GiB in one PUT; a longer body with a known length still goes in parts. */
const MAX_SINGLE_PUT_BYTES = 5 * 1024 ** 3;

/** Lifetime of the URL a streamed PUT is signed with: S3 checks it when the request starts. */
const PRESIGNED_PUT_SECONDS = 60 * 60;

/**
 * The body's bytes, remembering a failure of the source (so it is told apart
 * from the store's) and, with `length`, holding the source to the length it
 * declared: more bytes, or fewer before the end, fail it.
 */
async function* sourceBytes(bytes: AsyncIterable<Buffer>, failures: { source?: unknown }, length?: number): AsyncGenerator<Buffer> {
  let received = 0;
  const fail = (e: unknown) => {
    failures.source = e;
    return e;
  };
  const chunks = bytes[Symbol.asyncIterator]();
  for (;;) {
    let step: IteratorResult<Buffer>;
    try {
      step = await chunks.next();
    } catch (e) {
      throw fail(e);
    }
    if (step.done) break;
    received += step.value.length;
    if (length !== undefined && received > length) throw fail(new SourceProtocolError(`the source sent more than the ${length} bytes it declared`));
    yield step.value;
  }
  if (length !== undefined && received !== length) throw fail(new SourceProtocolError(`the source declared ${length} bytes but the body ended after ${received}`));
}

const isSuccess = (response: IncomingMessage): boolean => (response.statusCode ?? 0) >= 200 && (response.statusCode ?? 0) < 300;

/** The store's error answer (S3's XML `<Error><Code>…</Code><Message>…</Message>`) as a StorageError. */
async function storeRefusal(response: IncomingMessage, operation: string): Promise<StorageError> {
  let text = '';
  for await (const chunk of response) {
    if (text.length < 64 * 1024) text += (chunk as Buffer).toString('utf8');
  }
  const field = (name: string) => new RegExp(`<${name}>([^<]*)</${name}>`).exec(text)?.[1];
  const status = response.statusCode ?? 0;
  return StorageError.from({ code: field('Code') ?? `HTTP${status}`, statusCode: status, message: field('Message') ?? `answered ${status}` }, operation);
}

/** What the sync's activities use of the bucket (tests pass an in-memory one). */
export type DocumentBucket = Pick<ObjectStore, 'putStream' | 'copy' | 'remove' | 'exists' | 'read'>;

export class ObjectStore {
  readonly bucket: string;
  private readonly client: PresigningClient;

  constructor(
    settings: Config['objectStore'],
    private readonly partSize = UPLOAD_PART_BYTES,
  ) {
    this.bucket = settings.bucket;
    this.client = new PresigningClient({
      endPoint: settings.endPoint,
      ...(settings.port !== undefined ? { port: settings.port } : {}),
      useSSL: settings.useSSL,
      accessKey: settings.accessKey,
      secretKey: settings.secretKey,
      partSize,
      pathStyle: true,
    });
  }

  async ensureBucket(): Promise<void> {
    if (!(await this.client.bucketExists(this.bucket))) {
      try {
        await this.client.makeBucket(this.bucket);
      } catch (e) {
        // Another replica may have created it in between.
        if (!(await this.client.bucketExists(this.bucket))) throw e;
      }
    }
  }

  /** Answers when the store is reachable and the bucket exists. */
  async ping(): Promise<void> {
    if (!(await this.client.bucketExists(this.bucket))) throw new Error(`bucket ${this.bucket} does not exist`);
  }

  /**
   * Streams `body` into `key`, hashing and capping it on the way. When the
   * source declared the body's exact length (`length`: the Content-Length of
   * an unencoded response), the bytes go straight through one PUT and nothing
   * is held: a body that ends short of it or runs past it is the source's
   * failure (SourceProtocolError); the aborted PUT is removed (a store that
   * still finishes writing it leaves bytes no row refers to, which the retry
   * overwrites under the same key). Otherwise a body that
   * fits in one part (an empty one included) is held and sent as one PUT; a
   * longer one as a multipart upload, so memory stays bounded by the part
   * size. A failure part-way (source error, cap exceeded) leaves no partial
   * object behind; the store's own failures are StorageErrors.
   */
  async putStream(
    key: string,
    body: Readable,
    options: { contentType: string; maxBytes: number; length?: number; onProgress?: (bytes: number) => void },
  ): Promise<StoredObject> {
    const meter = new MeteredStream(options.maxBytes, options.onProgress);
    const headers = { 'Content-Type': options.contentType };
    const failures: { source?: unknown } = {};
    const streamed = options.length !== undefined && Number.isSafeInteger(options.length) && options.length > 0 && options.length <= MAX_SINGLE_PUT_BYTES;
    if (streamed && (options.length as number) > options.maxBytes) {
      body.destroy();
      throw new FileTooLargeError(options.maxBytes);
    }
    try {
      if (streamed) await this.putExactLength(key, body, meter, failures, options.length as number, headers);
      else await pipeline(body, meter, (bytes: AsyncIterable<Buffer>) => this.putBuffered(key, sourceBytes(bytes, failures), headers));
    } catch (e) {
      body.destroy();
      if (!streamed) await this.client.removeIncompleteUpload(this.bucket, key).catch(() => undefined);
      await this.remove(key).catch(() => undefined);
      if (e === failures.source || e instanceof FileTooLargeError) throw e;
      throw StorageError.from(e, `store ${key}`);
    }
    return { key, size: meter.bytes, sha256: meter.digest() };
  }

  /**
   * One PUT of a body whose length is known: source, meter and request in one pipeline, through a
   * presigned URL (signed here, no request to sign it; the day's signing key is kept).
   */
  private async putExactLength(
    key: string,
    body: Readable,
    meter: MeteredStream,
    failures: { source?: unknown },
    length: number,
    headers: Record<string, string>,
  ): Promise<void> {
    const url = new URL(await this.client.presignedPutUrl(this.bucket, key, PRESIGNED_PUT_SECONDS));
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const request = send(url, { method: 'PUT', headers: { ...headers, 'Content-Length': String(length) } });
    const answer = new Promise<IncomingMessage>((resolve, reject) => {
      request.once('response', resolve);
      request.once('error', reject);
    });
    answer.catch(() => undefined);
    try {
      await pipeline(body, meter, (bytes: AsyncIterable<Buffer>) => sourceBytes(bytes, failures, length), request);
    } catch (e) {
      // The store may have answered (and closed) before taking the whole body: its answer says why.
      const early = await Promise.race([answer.catch(() => undefined), sleep(1000).then(() => undefined)]);
      if (early && !isSuccess(early)) throw await storeRefusal(early, `store ${key}`);
      throw e;
    }
    const response = await answer;
    if (!isSuccess(response)) throw await storeRefusal(response, `store ${key}`);
    response.resume();
  }

  /** A body of unknown length: held while it fits in one part, then a multipart upload. */
  private async putBuffered(key: string, bytes: AsyncGenerator<Buffer>, headers: Record<string, string>): Promise<void> {
    const head: Buffer[] = [];
    let headBytes = 0;
    for (;;) {
      const step = await bytes.next();
      if (step.done) {
        const whole = Buffer.concat(head, headBytes);
        await this.client.putObject(this.bucket, key, whole, whole.length, headers);
        return;
      }
      head.push(step.value);
      headBytes += step.value.length;
      if (headBytes >= this.partSize) break;
    }
    const rest = Readable.from(
      (async function* () {
        yield* head;
        yield* bytes;
      })(),
    );
    await this.client.putObject(this.bucket, key, rest, undefined, headers);
  }

  async copy(fromKey: string, toKey: string): Promise<void> {
    await this.client.copyObject(this.bucket, toKey, `/${this.bucket}/${fromKey}`, new Minio.CopyConditions());
  }

  /** Removes an object; a missing one is not an error. */
  async remove(key: string): Promise<void> {
    await this.client.removeObject(this.bucket, key);
  }

  async exists(key: string): Promise<boolean> {
    try {
      await this.client.statObject(this.bucket, key);
      return true;
    } catch (e) {
      if ((e as { code?: string }).code === 'NotFound' || (e as { code?: string }).code === 'NoSuchKey') return false;
      throw e;
    }
  }

  async read(key: string): Promise<Buffer> {
    const stream = await this.client.getObject(this.bucket, key);
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  async listKeys(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    for await (const item of this.client.listObjectsV2(this.bucket, prefix, true)) {
      const name = (item as { name?: string }).name;
      if (name) keys.push(name);
    }
    return keys;
  }
}
