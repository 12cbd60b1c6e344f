import { pipeline, type Readable } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { errors, request, type Dispatcher } from 'undici';

/**
 * One HTTP exchange with a source, over undici's `request` rather than `fetch`: the body is a Node
 * stream from the start (no web stream to adapt), a per-request headers timeout replaces an
 * AbortController and `AbortSignal.any`, and a small GET makes about half of fetch's garbage
 * (bench/http-client-gc.ts). Retries, verdicts and budgets stay in SourceHttp; this file only
 * sends, decodes and names what went wrong.
 */

/** An answer's header fields, read by name in any case; a WHATWG `Headers` is one too. */
export interface AnswerHeaders {
  get(name: string): string | null;
}

/** Header fields as undici hands them over: lower-case names, a repeated field as an array. */
class HeaderFields implements AnswerHeaders {
  constructor(private readonly fields: Record<string, string | string[] | undefined>) {}

  get(name: string): string | null {
    const value = this.fields[name.toLowerCase()];
    return value === undefined ? null : typeof value === 'string' ? value : value.join(', ');
  }

  without(name: string): HeaderFields {
    const { [name]: _dropped, ...rest } = this.fields;
    return new HeaderFields(rest);
  }
}

/** A source's answer. Its body is decoded when the source compressed it, and then carries no length. */
export interface Answer {
  readonly status: number;
  readonly headers: AnswerHeaders;
  /** The whole body as text; more than `maxBytes` (decoded) rejects with a BodyTooLargeError and is not read further. */
  text(maxBytes: number): Promise<string>;
  /** At most `limit` characters of the body; the rest is not read. */
  textUpTo(limit: number): Promise<string>;
  /** The body as a stream, to be read once by one reader. */
  readonly body: Readable;
  /** Drops the body: read to its end unseen when short (the connection then serves the next request), else cut. */
  discard(): Promise<void>;
}

/**
 * Nothing answered: the connection was refused, reset or timed out, the host did not resolve, TLS
 * failed. `message` says which, in the words of the system call or of undici, with its code.
 */
export class NetworkFailure extends Error {
  override readonly name = 'NetworkFailure';
  constructor(
    message: string,
    readonly code: string | undefined,
    options: { cause: unknown },
  ) {
    super(message, options);
  }
}

/** A body longer than its reader takes (a listing page of gigabytes, a compression bomb). */
export class BodyTooLargeError extends Error {
  override readonly name = 'BodyTooLargeError';
  constructor(readonly maxBytes: number) {
    super(`the body is longer than ${maxBytes} bytes`);
  }
}

export interface Exchange {
  method: string;
  headers: Record<string, string>;
  body?: string | undefined;
  signal?: AbortSignal | undefined;
  /** How long to wait for the answer's headers once the request is sent; reading the body is not timed here. */
  headersTimeoutMs: number;
  dispatcher: Dispatcher;
}

/** What we accept compressed, and decode: gzip and brotli (deflate's two framings make it ambiguous, so it is not asked for). */
export const ACCEPTED_ENCODINGS = 'gzip, br';

/** Errors that are our own mistakes in building a request, not the network's: they are not retried. */
const OWN_MISTAKES = [errors.InvalidArgumentError, errors.NotSupportedError, errors.InvalidReturnValueError];

/** Sends one request and resolves with its answer, whatever its status. */
export async function exchange(url: URL, init: Exchange): Promise<Answer> {
  let data: Dispatcher.ResponseData;
  try {
    data = await request(url, {
      method: init.method,
      headers: init.headers,
      body: init.body ?? null,
      signal: init.signal ?? null,
      headersTimeout: init.headersTimeoutMs,
      dispatcher: init.dispatcher,
    });
  } catch (e) {
    // The caller's cancellation travels as the reason it gave.
    if (init.signal?.aborted) throw init.signal.reason ?? e;
    throw asNetworkFailure(e, init.headersTimeoutMs);
  }
  return answerOf(data);
}

function asNetworkFailure(e: unknown, headersTimeoutMs: number): unknown {
  if (OWN_MISTAKES.some((kind) => e instanceof kind) || !(e instanceof Error)) return e;
  const code = (e as { code?: unknown }).code;
  if (typeof code !== 'string') return e;
  if (e instanceof errors.HeadersTimeoutError) return new NetworkFailure(`no answer within ${headersTimeoutMs} ms`, code, { cause: e });
  return new NetworkFailure(e.message.includes(code) ? e.message : `${code}: ${e.message}`, code, { cause: e });
}

function answerOf(data: Dispatcher.ResponseData): Answer {
  const raw = data.body;
  // A cut body errors the stream: whoever reads it gets the error (a pipeline, an iteration), but an
  // error nobody reads must not end the process.
  raw.on('error', () => undefined);
  const fields = new HeaderFields(data.headers);
  const decoders = decodersFor(fields.get('content-encoding'));
  const body = decoders.length === 0 ? raw : decodedBody(raw, decoders);
  return {
    status: data.statusCode,
    // Decoded bytes no longer match the length the source declared for the encoded ones.
    headers: body === raw ? fields : fields.without('content-length'),
    body,
    text: (maxBytes) => readText(body, maxBytes),
    textUpTo: (limit) => readUpTo(body, limit),
    // A plain body is read to its end when short, so its connection serves again; a decoder is stopped.
    discard: () => (body === raw ? raw.dump() : Promise.resolve(void body.destroy())),
  };
}

function decodedBody(raw: Readable, decoders: NodeJS.ReadWriteStream[]): Readable {
  const decoded = pipeline([raw, ...decoders], () => undefined) as unknown as Readable;
  decoded.on('error', () => undefined);
  return decoded;
}

const DECODERS: Record<string, () => NodeJS.ReadWriteStream> = {
  gzip: createGunzip,
  'x-gzip': createGunzip,
  br: createBrotliDecompress,
  deflate: createInflate,
};

/** The decoders for a `Content-Encoding` list, in the order to apply them; none when any coding is unknown (the bytes pass as they came). */
function decodersFor(encoding: string | null): NodeJS.ReadWriteStream[] {
  if (encoding === null) return [];
  const codings = encoding
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '' && c !== 'identity')
    .reverse();
  if (!codings.every((c) => Object.hasOwn(DECODERS, c))) return [];
  return codings.map((c) => (DECODERS[c] as () => NodeJS.ReadWriteStream)());
}

/** Decodes UTF-8 and drops a byte-order mark, as fetch's `text()` did. */
const utf8 = new TextDecoder();

async function readText(body: Readable, maxBytes: number): Promise<string> {
  const parts: Buffer[] = [];
  let length = 0;
  for await (const chunk of body) {
    length += (chunk as Buffer).length;
    if (length > maxBytes) {
      body.destroy();
      throw new BodyTooLargeError(maxBytes);
    }
    parts.push(chunk as Buffer);
  }
  return utf8.decode(Buffer.concat(parts, length));
}

/** What a failed answer says, for its classifier: a body cut short gives what came before the cut. */
async function readUpTo(body: Readable, limit: number): Promise<string> {
  const parts: Buffer[] = [];
  let length = 0;
  try {
    // A character is at most 4 bytes: this many bytes always hold `limit` characters.
    for await (const chunk of body) {
      parts.push(chunk as Buffer);
      length += (chunk as Buffer).length;
      if (length >= limit * 4) break;
    }
  } catch {
    // Keep what came.
  } finally {
    body.destroy();
  }
  const text = Buffer.concat(parts).toString('utf8');
  return text.length > limit ? text.slice(0, limit) : text;
}
