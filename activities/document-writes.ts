import type { Kysely } from 'kysely';
import { recordPublished, upsertDocuments, type DocumentUpsert, type StoredVersion } from '../src/db/documents.js';
import type { Database } from '../src/db/schema.js';

/**
 * The row writes of the files one activity transfers at the same time, each
 * kind in one statement: a file's upsert (or publication record) that comes
 * while another is on its way to PostgreSQL waits for it to return and goes in
 * the next statement along with every other that came meanwhile. No file waits
 * for a timer or for the others: the first write goes at once, and each file
 * still goes on only once its own row is durable. A statement that fails is
 * tried again row by row, so one row PostgreSQL refuses fails its own file only.
 */
export class Coalescer<In, Out> {
  private queue: Array<{ input: In; resolve: (out: Out) => void; reject: (e: unknown) => void }> = [];
  private flushing = false;

  constructor(private readonly write: (inputs: In[]) => Promise<Out[]>) {}

  run(input: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    // Writes asked in the same turn of the event loop go together from the first statement on.
    await Promise.resolve();
    while (this.queue.length > 0) {
      const waiting = this.queue.splice(0);
      try {
        const outs = await this.write(waiting.map((w) => w.input));
        waiting.forEach((w, i) => w.resolve(outs[i] as Out));
      } catch (e) {
        if (waiting.length === 1) (waiting[0] as (typeof waiting)[number]).reject(e);
        else await Promise.all(waiting.map((w) => this.write([w.input]).then(([out]) => w.resolve(out as Out), w.reject)));
      }
    }
    this.flushing = false;
  }
}

/** One activity's document upserts and publication records, coalesced per kind. */
export class DocumentWrites {
  private readonly upserts: Coalescer<DocumentUpsert, StoredVersion>;
  private readonly records: Coalescer<{ documentId: string; version: number }, null>;

  constructor(db: Kysely<Database>, connectorId: number) {
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
    this.records = new Coalescer(async (versions) => {
      await recordPublished(db, connectorId, versions);
      return versions.map(() => null);
    });
  }

  /** Stores the row of one file (see upsertDocuments). */
  upsert(doc: DocumentUpsert): Promise<StoredVersion> {
    return this.upserts.run(doc);
  }

  /** Records one version as published (see recordPublished). */
  async recordPublished(documentId: string, version: number): Promise<void> {
    await this.records.run({ documentId, version });
  }
}
