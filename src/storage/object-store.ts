import { createHash } from 'node:crypto';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as Minio from 'minio';
import type { Config } from '../config.js';
import { PermanentSourceError } from '../errors.js';

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

/** Bytes of one upload part: a body up to this size is held whole and sent as one PUT, a longer one in parts of this size. */
export const UPLOAD_PART_BYTES = 8 * 1024 * 1024;

/**
 * The first part of a body, held in memory until we know whether it is the
 * whole body. When the source declared the length (and it fits in a part), the
 * bytes are copied into one buffer of that size as they arrive, so a file is
 * held once, not once in chunks and again when they are joined. A source that
 * sends more or fewer bytes than it declared is handled all the same.
 */
class PartCollector {
  bytes = 0;
  private readonly list: Buffer[] = [];
  private buffer: Buffer | undefined;

  constructor(expectedSize: number | undefined, partSize: number) {
    if (expectedSize !== undefined && Number.isSafeInteger(expectedSize) && expectedSize > 0 && expectedSize <= partSize) {
      this.buffer = Buffer.allocUnsafe(expectedSize);
    }
  }

  add(chunk: Buffer): void {
    if (this.buffer && this.bytes + chunk.length <= this.buffer.length) {
      chunk.copy(this.buffer, this.bytes);
    } else {
      if (this.buffer) {
        // More bytes than declared: keep what was copied, collect the rest as chunks.
        this.list.push(this.buffer.subarray(0, this.bytes));
        this.buffer = undefined;
      }
      this.list.push(chunk);
    }
    this.bytes += chunk.length;
  }

  /** The bytes so far, as one buffer (never the unwritten tail of the preallocated one). */
  whole(): Buffer {
    return this.buffer ? this.buffer.subarray(0, this.bytes) : Buffer.concat(this.list, this.bytes);
  }

  chunks(): Buffer[] {
    return this.buffer ? [this.buffer.subarray(0, this.bytes)] : this.list;
  }
}

/** What the sync's activities use of the bucket (tests pass an in-memory one). */
export type DocumentBucket = Pick<ObjectStore, 'putStream' | 'copy' | 'remove' | 'exists' | 'read'>;

export class ObjectStore {
  readonly bucket: string;
  private readonly client: Minio.Client;

  constructor(
    settings: Config['objectStore'],
    private readonly partSize = UPLOAD_PART_BYTES,
  ) {
    this.bucket = settings.bucket;
    this.client = new Minio.Client({
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
   * Streams `body` into `key`, hashing and capping it on the way. A body that
   * fits in one part (an empty one included) is sent as one PUT with its
   * length; a longer one as a multipart upload, so memory stays bounded by the
   * part size. A failure part-way (source error, cap exceeded) leaves no
   * partial object behind; the store's own failures are StorageErrors.
   */
  async putStream(
    key: string,
    body: Readable,
    options: { contentType: string; maxBytes: number; expectedSize?: number; onProgress?: (bytes: number) => void },
  ): Promise<StoredObject> {
    const meter = new MeteredStream(options.maxBytes, options.onProgress);
    const headers = { 'Content-Type': options.contentType };
    let sourceFailure: unknown;
    const upload = async (bytes: AsyncIterable<Buffer>): Promise<void> => {
      const chunks = bytes[Symbol.asyncIterator]();
      const next = async (): Promise<IteratorResult<Buffer>> => {
        try {
          return await chunks.next();
        } catch (e) {
          sourceFailure = e;
          throw e;
        }
      };
      const head = new PartCollector(options.expectedSize, this.partSize);
      for (;;) {
        const step = await next();
        if (step.done) {
          const whole = head.whole();
          await this.client.putObject(this.bucket, key, whole, whole.length, headers);
          return;
        }
        head.add(step.value);
        if (head.bytes >= this.partSize) break;
      }
      const rest = Readable.from(
        (async function* () {
          yield* head.chunks();
          for (;;) {
            const step = await next();
            if (step.done) return;
            yield step.value;
          }
        })(),
      );
      await this.client.putObject(this.bucket, key, rest, undefined, headers);
    };
    try {
      await pipeline(body, meter, upload);
    } catch (e) {
      await this.client.removeIncompleteUpload(this.bucket, key).catch(() => undefined);
      await this.remove(key).catch(() => undefined);
      if (e === sourceFailure || e instanceof FileTooLargeError) throw e;
      throw StorageError.from(e, `store ${key}`);
    }
    return { key, size: meter.bytes, sha256: meter.digest() };
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
