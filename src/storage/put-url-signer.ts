import { createHash, createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import * as Minio from 'minio';

/**
 * The minio client, with presigned PUT URLs made as its own `presignedUrl`
 * makes them (AWS Signature V4 in the query string, `UNSIGNED-PAYLOAD`, the
 * headers minio signs) but with the signing key derived once per day and
 * region instead of once per URL. minio derives it for every URL: four HMACs,
 * each over a key object Node builds anew, which made presigning the largest
 * single item of the worker's CPU per small file (about 0.2 ms of 4). The key
 * depends only on the secret, the day, the region and the service (AWS's
 * "Calculate the signature" step of Signature V4), so one per day serves every
 * URL. The URL's origin and the path before the key (path or virtual-host
 * style) are minio's own (`getRequestOptions`, asked once per bucket), the key
 * is escaped as minio escapes it (`uriResourceEscape`), and what every URL into
 * the bucket shares is built once; test/unit/put-url-signer.test.ts holds both
 * to the same URL, byte for byte.
 */
export class PresigningClient extends Minio.Client {
  private signingKey: { scope: string; key: KeyObject } | undefined;
  private bucketTemplate: BucketTemplate | undefined;

  /** A URL that PUTs `objectName` into `bucketName` for `expiresSeconds` from `now`. */
  async presignedPutUrl(bucketName: string, objectName: string, expiresSeconds: number, now = new Date()): Promise<string> {
    // Temporary credentials (a session token, a provider that refreshes them) go through minio itself.
    if (this.sessionToken !== undefined || this.credentialsProvider !== undefined) {
      return this.presignedUrl('PUT', bucketName, objectName, expiresSeconds, {}, now);
    }
    const bucket = this.bucketTemplate?.bucketName === bucketName ? this.bucketTemplate : await this.templateFor(bucketName);
    const { region } = bucket;
    const stamp = now.toISOString();
    const amzDate = `${stamp.slice(0, 4)}${stamp.slice(5, 7)}${stamp.slice(8, 13)}${stamp.slice(14, 16)}${stamp.slice(17, 19)}Z`;
    const scope = `${amzDate.slice(0, 8)}/${region}/s3/aws4_request`;
    const query =
      `X-Amz-Algorithm=${ALGORITHM}&X-Amz-Credential=${uriEscape(`${this.accessKey}/${scope}`)}&X-Amz-Date=${amzDate}` +
      `&X-Amz-Expires=${expiresSeconds}&X-Amz-SignedHeaders=${bucket.signedHeadersParam}`;
    // minio's own escaping of the key (uriResourceEscape: every byte but the unreserved ones and `/`).
    const path = `${bucket.pathPrefix}${uriEscape(objectName).replaceAll('%2F', '/')}`;
    const canonicalQuery = query
      .split('&')
      .sort()
      .map((p) => (p.includes('=') ? p : `${p}=`))
      .join('&');
    const canonicalRequest = `PUT\n${path}\n${canonicalQuery}\n${bucket.canonicalHeaders}\n\n${bucket.signedHeaders}\nUNSIGNED-PAYLOAD`;
    const stringToSign = `${ALGORITHM}\n${amzDate}\n${scope}\n${createHash('sha256').update(canonicalRequest).digest('hex')}`;
    const signature = createHmac('sha256', this.keyFor(scope, amzDate.slice(0, 8), region)).update(stringToSign).digest('hex');
    return `${bucket.origin}${path}?${query}&X-Amz-Signature=${signature}`;
  }

  /**
   * What every URL into one bucket shares, from minio's own request options (asked once, for a
   * one-letter key): the region, the origin, the path before the key and the signed headers.
   */
  private async templateFor(bucketName: string): Promise<BucketTemplate> {
    const region = await this.getBucketRegionAsync(bucketName);
    const request = this.getRequestOptions({ method: 'PUT', region, bucketName, objectName: 'k' });
    const headers = request.headers as Record<string, string>;
    const [path = '/', ownQuery] = (request.path ?? '/').split('?');
    if (!path.endsWith('/k') || ownQuery) throw new Error(`unexpected request path ${request.path ?? ''} for bucket ${bucketName}`);
    // minio signs every header it sets but these four (its getSignedHeaders), in order.
    const signed = Object.keys(headers)
      .filter((h) => !UNSIGNED_HEADERS.has(h))
      .sort();
    this.bucketTemplate = {
      bucketName,
      region,
      origin: `${request.protocol}//${headers.host}`,
      pathPrefix: path.slice(0, -1),
      signedHeaders: signed.join(';').toLowerCase(),
      signedHeadersParam: uriEscape(signed.join(';').toLowerCase()),
      canonicalHeaders: signed.map((h) => `${h.toLowerCase()}:${String(headers[h]).replace(/ +/g, ' ')}`).join('\n'),
    };
    return this.bucketTemplate;
  }

  private keyFor(scope: string, day: string, region: string): KeyObject {
    if (this.signingKey?.scope !== scope) {
      const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();
      const derived = hmac(hmac(hmac(hmac(`AWS4${this.secretKey}`, day), region), 's3'), 'aws4_request');
      this.signingKey = { scope, key: createSecretKey(derived) };
    }
    return this.signingKey.key;
  }
}

const ALGORITHM = 'AWS4-HMAC-SHA256';

interface BucketTemplate {
  bucketName: string;
  region: string;
  origin: string;
  /** The path up to the key: `/<bucket>/` (path style) or `/` (virtual-host style). */
  pathPrefix: string;
  signedHeaders: string;
  signedHeadersParam: string;
  canonicalHeaders: string;
}

/** Headers minio leaves out of the signature. */
const UNSIGNED_HEADERS = new Set(['authorization', 'content-length', 'content-type', 'user-agent']);

/** RFC 3986 escaping, as minio's uriEscape. */
function uriEscape(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
