import type { ConnectorRow } from '../../src/db/schema.js';
import { SourceHttp, type SourceHttpOptions } from '../../src/http/source-http.js';
import { createLogger } from '../../src/logger.js';
import { SourceMemory } from '../../src/providers/source-memory.js';
import type { CredentialStore, FolderTree, ItemParents, RelistQueue, RelistTaskRecord, SourceContext } from '../../src/providers/types.js';

/**
 * A SourceContext whose credential store and folder tree live in memory, for
 * provider tests that talk to an emulator without the database. Each context
 * has its own SourceMemory (tokens, tenant pauses) unless it is given one, as
 * the activities of one worker share theirs.
 */
export interface MemorySourceContext extends SourceContext {
  /** Every config patch the provider wrote back, in order. */
  configPatches: Array<Record<string, unknown>>;
  folderMap: Map<string, { parentId: string | null; inScope: boolean }>;
  /** Per listing scope: item id → its parent, and whether it was deleted. */
  itemMap: Map<string, Map<string, { parentId: string | null; folder: boolean; gone: boolean }>>;
  /** Per listing scope: relist queue id → position → task. */
  relistMap: Map<string, Map<string, Map<number, RelistTaskRecord>>>;
}

/** RelistQueue in memory, with the database version's rules (see src/providers/stores.ts). */
function memoryRelistQueue(relistMap: MemorySourceContext['relistMap']): RelistQueue {
  const of = (scope: string, queueId: string) => {
    const queues = relistMap.get(scope) ?? relistMap.set(scope, new Map()).get(scope) ?? new Map<string, Map<number, RelistTaskRecord>>();
    return queues.get(queueId) ?? queues.set(queueId, new Map()).get(queueId) ?? new Map<number, RelistTaskRecord>();
  };
  return {
    append(scope, queueId, from, tasks) {
      const rows = of(scope, queueId);
      tasks.forEach((task, i) => {
        const taken = rows.has(from + i) || [...rows.values()].some((t) => t.folderId === task.folderId);
        if (!taken) rows.set(from + i, { ...task });
      });
      return Promise.resolve();
    },
    head(scope, queueId, from) {
      const [seq, task] = [...of(scope, queueId)].filter(([s]) => s >= from).sort(([a], [b]) => a - b)[0] ?? [];
      return Promise.resolve(seq === undefined || task === undefined ? null : { seq, ...task });
    },
    prune(scope, keep) {
      const queues = relistMap.get(scope);
      for (const [queueId, rows] of queues ?? []) {
        if (keep === null || queueId !== keep.queueId) queues?.delete(queueId);
        else for (const seq of [...rows.keys()]) if (seq < keep.before) rows.delete(seq);
      }
      return Promise.resolve();
    },
  };
}

/** ItemParents in memory, with the database version's rules (see src/providers/stores.ts). */
function memoryItemParents(itemMap: MemorySourceContext['itemMap'], relistMap: MemorySourceContext['relistMap']): ItemParents {
  const of = (scope: string) => itemMap.get(scope) ?? itemMap.set(scope, new Map()).get(scope) ?? new Map<string, { parentId: string | null; folder: boolean; gone: boolean }>();
  return {
    record(scope, items) {
      const rows = of(scope);
      const restored = new Set(items.filter((i) => i.folder && rows.get(i.itemId)?.gone === true).map((i) => i.itemId));
      for (const i of items) rows.set(i.itemId, { parentId: i.parentId, folder: i.folder, gone: restored.has(i.itemId) });
      return Promise.resolve([...restored]);
    },
    removeSubtrees(scope, itemIds) {
      const rows = of(scope);
      const doomed = new Set(itemIds);
      const below: string[] = [];
      for (let frontier = [...doomed]; frontier.length > 0; ) {
        const parents = new Set(frontier);
        frontier = [...rows].filter(([id, row]) => row.parentId !== null && parents.has(row.parentId) && !doomed.has(id) && !below.includes(id)).map(([id]) => id);
        below.push(...frontier);
      }
      const removed = below.map((id) => ({ itemId: id, folder: rows.get(id)?.folder === true }));
      for (const id of below) rows.set(id, { parentId: rows.get(id)?.parentId ?? null, folder: rows.get(id)?.folder === true, gone: true });
      const folders = [...doomed].filter((id) => rows.get(id)?.folder === true);
      for (const id of doomed) rows.set(id, { parentId: rows.get(id)?.parentId ?? null, folder: rows.get(id)?.folder === true, gone: true });
      return Promise.resolve({ below: removed, folders });
    },
    revive(scope, folderIds) {
      const rows = of(scope);
      for (const id of folderIds) {
        const row = rows.get(id);
        if (row) rows.set(id, { ...row, gone: false });
      }
      return Promise.resolve();
    },
    clear(scope) {
      itemMap.delete(scope);
      relistMap.delete(scope);
      return Promise.resolve();
    },
    relists: memoryRelistQueue(relistMap),
  };
}

export function connectorRow(overrides: Partial<ConnectorRow> = {}): ConnectorRow {
  return {
    id: 1,
    name: 'test connector',
    type: 'onedrive',
    config: {},
    state: {},
    refresh_freq_minutes: null,
    user_id: 1,
    scope: 'user',
    scope_id: null,
    team_id: null,
    google_credential_id: null,
    status: 'pending',
    status_message: null,
    last_sync_at: null,
    docs_analyzed: '0',
    creation_date: new Date(),
    last_update: null,
    user_id_last_update: null,
    deleted_date: null,
    ...overrides,
  };
}

export function memorySourceContext(
  connector: ConnectorRow,
  options: { http?: Partial<SourceHttpOptions>; memory?: SourceMemory } = {},
): MemorySourceContext {
  const configPatches: Array<Record<string, unknown>> = [];
  const folderMap = new Map<string, { parentId: string | null; inScope: boolean }>();
  const itemMap: MemorySourceContext['itemMap'] = new Map();
  const relistMap: MemorySourceContext['relistMap'] = new Map();
  const memory = options.memory ?? new SourceMemory();
  const ctx: MemorySourceContext = {
    connector,
    config: { ...(connector.config) },
    configPatches,
    folderMap,
    itemMap,
    relistMap,
    items: memoryItemParents(itemMap, relistMap),
    logger: createLogger('silent'),
    memory,
    makeHttp: (opts) => new SourceHttp({ baseDelayMs: 5, maxDelayMs: 50, maxInlineWaitMs: 5_000, pauses: memory.pauses, rateLimiter: memory.rates, ...options.http, ...opts, dispatcher: options.http?.dispatcher ?? memory.connections }),
    credentials: {
      updateConnectorConfig(patch) {
        configPatches.push(patch);
        Object.assign(ctx.config, patch);
        return Promise.resolve();
      },
    } satisfies CredentialStore,
    folders: {
      get: (id) => Promise.resolve(folderMap.get(id) ?? null),
      put(folders) {
        for (const f of folders) folderMap.set(f.folderId, { parentId: f.parentId, inScope: f.inScope });
        return Promise.resolve();
      },
      remove(ids) {
        for (const id of ids) folderMap.delete(id);
        return Promise.resolve();
      },
      clear() {
        folderMap.clear();
        return Promise.resolve();
      },
    } satisfies FolderTree,
  };
  return ctx;
}
