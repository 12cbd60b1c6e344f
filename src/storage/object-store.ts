import { createHash } from 'node:crypto';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
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

export class ObjectStore {
  readonly bucket: string;
  private readonly client: Minio.Client;

  constructor(settings: Config['objectStore'], partSize = 8 * 1024 * 1024) {
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
   * Streams `body` into `key`, hashing and capping it on the way. A failure
   * part-way (source error, cap exceeded) leaves no partial object behind.
   */
  async putStream(
    key: string,
    body: Readable,
    options: { contentType: string; maxBytes: number; onProgress?: (bytes: number) => void },
  ): Promise<StoredObject> {
    const meter = new MeteredStream(options.maxBytes, options.onProgress);
    const upload = this.client.putObject(this.bucket, key, meter, undefined, { 'Content-Type': options.contentType });
    try {
      await pipeline(body, meter);
    } catch (e) {
      // The upload may still be waiting on the broken stream: stop it, and drop what it sent.
      upload.catch(() => undefined);
      meter.destroy();
      await this.client.removeIncompleteUpload(this.bucket, key).catch(() => undefined);
      await this.remove(key).catch(() => undefined);
      throw e;
    }
    await upload;
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
