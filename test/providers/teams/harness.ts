import type { Config } from '../../../src/config.js';
import type { SourceHttpOptions } from '../../../src/http/source-http.js';
import type { PerChannelFilesCursor, TeamsCursor } from '../../../src/providers/microsoft-graph/teams/cursor.js';
import { createTeamsProvider } from '../../../src/providers/microsoft-graph/teams/provider.js';
import type { ChangePage, SourceChange, SourceItem } from '../../../src/providers/types.js';
import type { GraphEmulator } from '../../emulators/graph/index.js';
import { connectorRow, type MemorySourceContext, memorySourceContext } from '../../support/memory-source-context.js';
import { readAll } from '../onedrive/harness.js';

export { readAll, useGraphEmulator } from '../onedrive/harness.js';

/** Shared steps of the Teams provider tests: a context pointed at the emulator, and whole passes of changes. */

let nextConnectorId = 500;

export function teamsContext(config: Record<string, unknown>, http: Partial<SourceHttpOptions> = {}): MemorySourceContext {
  // A SourceMemory per context (memorySourceContext's default): one test's budgets never slow the next.
  return memorySourceContext(connectorRow({ id: nextConnectorId++, type: 'teams', config }), { http });
}

export function teamsProvider(emulator: GraphEmulator, settings: Partial<Config['microsoft']> = {}) {
  return createTeamsProvider({ ...emulator.settings, ...settings });
}

export interface Pass {
  pages: Array<ChangePage<TeamsCursor>>;
  changes: SourceChange[];
  cursor: TeamsCursor;
}

/** Calls listChanges until the source says it has no more, as the pipeline does (the cursor goes through JSON between pages). */
export async function pass(provider: ReturnType<typeof createTeamsProvider>, ctx: MemorySourceContext, from: TeamsCursor | PerChannelFilesCursor | null): Promise<Pass> {
  const pages: Array<ChangePage<TeamsCursor>> = [];
  let cursor: TeamsCursor | PerChannelFilesCursor | null = from;
  for (let i = 0; i < 500; i++) {
    const page = await provider.listChanges(ctx, cursor);
    const read = provider.parseCursor(JSON.parse(JSON.stringify(page.cursor)));
    if (!read || read.v !== 2) throw new Error(`the provider could not read back its own cursor: ${JSON.stringify(page.cursor)}`);
    pages.push({ ...page, cursor: read });
    cursor = read;
    if (!page.hasMore) return { pages, changes: pages.flatMap((p) => p.changes), cursor: read };
  }
  throw new Error('the pass never ended');
}

export const upserts = (changes: SourceChange[]): SourceItem[] => changes.flatMap((c) => (c.kind === 'upsert' ? [c.item] : []));
export const deletes = (changes: SourceChange[]): string[] => changes.flatMap((c) => (c.kind === 'delete' ? [c.sourceId] : []));
export const skips = (changes: SourceChange[]) => changes.flatMap((c) => (c.kind === 'skip' ? [c] : []));
export const failures = (changes: SourceChange[]) => changes.flatMap((c) => (c.kind === 'fail' ? [c] : []));
/** Thread documents, the last report of each (as the pipeline keeps it: a thread changed during its listing comes again). */
export const threads = (changes: SourceChange[]): SourceItem[] => [
  ...new Map(upserts(changes).filter((i) => i.fetch.kind === 'thread').map((i) => [i.sourceId, i])).values(),
];

export async function contentOf(provider: ReturnType<typeof createTeamsProvider>, ctx: MemorySourceContext, item: SourceItem): Promise<string> {
  const { body } = await provider.openContent(ctx, item);
  return (await readAll(body)).toString();
}
