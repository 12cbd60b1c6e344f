import { Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SEARCH_ATTRIBUTES } from '../../src/telemetry/search-attributes.js';
import { testConfig } from '../support/integration.js';

/**
 * `STACK_TEMPORAL=server bash scripts/stack.sh up` (what CI runs the kill and
 * replica chaos tests against) is Temporal's own server as deploy/temporal/
 * configures it, not the dev server: asked through Temporal's API, as an
 * operator would. Runs only against that profile (the dev server answers sqlite).
 */
const onServerProfile = process.env.STACK_TEMPORAL === 'server';

describe.runIf(onServerProfile)('the server profile is Temporal’s own server on PostgreSQL', () => {
  let connection: Connection;
  const config = testConfig();

  beforeAll(async () => {
    connection = await Connection.connect({ address: config.temporal.address });
  });
  afterAll(async () => {
    await connection?.close();
  });

  it('keeps history and visibility in PostgreSQL with 4 history shards, on server 1.32', async () => {
    const info = await connection.workflowService.getClusterInfo({});
    expect(info.persistenceStore).toBe('postgres12');
    expect(info.visibilityStore).toBe('postgres12');
    expect(info.historyShardCount).toBe(4);
    expect(info.serverVersion).toMatch(/^1\.32\./);
  });

  it('has the namespace and the search attributes the sync sets, with their types', async () => {
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: config.temporal.namespace });
    // temporal.api.enums.v1.IndexedValueType
    const indexedValueType: Record<string, number> = { Keyword: 2, Int: 3 };
    const registered = Object.fromEntries(Object.keys(SEARCH_ATTRIBUTES).map((name) => [name, customAttributes?.[name]]));
    expect(registered).toEqual(Object.fromEntries(Object.entries(SEARCH_ATTRIBUTES).map(([name, type]) => [name, indexedValueType[type]])));
  });
});
