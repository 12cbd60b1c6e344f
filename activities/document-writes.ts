import type { Kysely } from 'kysely';
import { recordPublished, upsertDocuments, type DocumentUpsert, type StoredVersion } from '../src/db/documents.js';
import type { Database } from '../src/db/schema.js';

/** How a Coalescer groups the rows of a statement. */
export interface CoalescingOptions {
  /**
   * How long the first row asked waits for others before its statement goes (0: no wait, the
   * default). Only for writes nobody waits on (see DocumentWrites' publication records).
   */
  lingerMs?: number;
  /** Rows one statement holds at most: a statement goes as soon as this many are waiting. */
  maxRows?: number;
}

/**
 * The row writes of the files one activity transfers at the same time, each
 * kind in one statement: a file's upsert (or publication record) that comes
 * while another is on its way to PostgreSQL waits for it to return and goes in
 * the next statement along with every other that came meanwhile. Without a
 * linger no file waits for a timer or for the others: the first write goes at
 * once, and each file still goes on only once its own row is durable. With one,
 * a statement goes `lingerMs` after its first row, when `maxRows` are waiting,
 * or at `flush()`. A statement that fails is tried again row by row, so one row
 * PostgreSQL refuses fails its own file only.
 */
export class Coalescer<In, Out> {
  private queue: Array<{ input: In; resolve: (out: Out) => void; reject: (e: unknown) => void }> = [];
  private flushing: Promise<void> | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private flushAll = 0;
  private readonly lingerMs: number;
  private readonly maxRows: number;

  constructor(
    private readonly write: (inputs: In[]) => Promise<Out[]>,
    options: CoalescingOptions = {},
  ) {
    this.lingerMs = options.lingerMs ?? 0;
    this.maxRows = options.maxRows ?? Number.POSITIVE_INFINITY;
  }

  run(input: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      if (this.lingerMs === 0 || this.queue.length >= this.maxRows) this.start();
      else this.timer ??= setTimeout(() => this.start(), this.lingerMs);
    });
  }

  /** Sends every row asked so far without waiting for the linger; resolves once they are written (or refused: each row's own promise says). */
  async flush(): Promise<void> {
    this.flushAll++;
    try {
      this.start();
      while (this.flushing) await this.flushing;
    } finally {
      this.flushAll--;
    }
  }

  private start(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.queue.length > 0) this.flushing ??= this.drain().finally(() => (this.flushing = undefined));
  }

  /** Rows waiting that should go now rather than after a linger. */
  private due(): boolean {
    return this.queue.length > 0 && (this.lingerMs === 0 || this.flushAll > 0 || this.queue.length >= this.maxRows);
  }

  private async drain(): Promise<void> {
    // Writes asked in the same turn of the event loop go together from the first statement on.
    await Promise.resolve();
    while (this.queue.length > 0) {
      const waiting = this.queue.splice(0, this.maxRows);
      try {
        const outs = await this.write(waiting.map((w) => w.input));
        waiting.forEach((w, i) => w.resolve(outs[i] as Out));
      } catch (e) {
        if (waiting.length === 1) (waiting[0] as (typeof waiting)[number]).reject(e);
        else await Promise.all(waiting.map((w) => this.write([w.input]).then(([out]) => w.resolve(out as Out), w.reject)));
      }
      if (!this.due()) break;
    }
    // Rows asked meanwhile that are not due yet: their linger starts now.
    if (this.queue.length > 0) this.timer ??= setTimeout(() => this.start(), this.lingerMs);
  }
}

/**
 * How long a batch's publication records wait for each other (see DocumentWrites): well inside
 * JetStream's two-minute duplicate window, so a retry that publishes an unrecorded version
 * again is dropped by its message id.
 */
export const RECORD_LINGER_MS = 500;

/** Publication records one statement holds at most. */
export const RECORDS_PER_STATEMENT = 200;

/**
 * One activity's document upserts and publication records, coalesced per kind.
 * With `recordLingerMs`, publication records wait for each other that long (or
 * for `flush()`): files do not wait for them (the batch does, before it calls a
 * file finished), and a batch's records take one or two statements instead of
 * one per couple of files, each adding to `docs_analyzed` once.
 */
export class DocumentWrites {
  private readonly upserts: Coalescer<DocumentUpsert, StoredVersion>;
  private readonly records: Coalescer<{ documentId: string; version: number }, null>;

  constructor(db: Kysely<Database>, connectorId: number, options: { recordLingerMs?: number } = {}) {
    this.upserts = new Coalescer(async (docs) => {
      // One statement cannot hold a source id twice; repeats (never within one batch) go one by one.
      if (new Set(docs.map((d) => d.sourceId)).size < docs.length) throw new Error('a source id is in flight twice');
      const stored = await upsertDocuments(db, docs);
      return docs.map((d) => {
        const row = stored.get(d.sourceId);
        if (!row) throw new Error(`upsert of document ${d.sourceId} returned no row`);
        return row;
      });
    });
    this.records = new Coalescer(
      async (versions) => {
        await recordPublished(db, connectorId, versions);
        return versions.map(() => null);
      },
      { lingerMs: options.recordLingerMs ?? 0, maxRows: RECORDS_PER_STATEMENT },
    );
  }

  /** Stores the row of one file (see upsertDocuments). */
  upsert(doc: DocumentUpsert): Promise<StoredVersion> {
    return this.upserts.run(doc);
  }

  /** Records one version as published (see recordPublished). */
  async recordPublished(documentId: string, version: number): Promise<void> {
    await this.records.run({ documentId, version });
  }

  /** Writes the publication records still lingering; resolves once they are written or refused. */
  flushRecords(): Promise<void> {
    return this.records.flush();
  }
}
