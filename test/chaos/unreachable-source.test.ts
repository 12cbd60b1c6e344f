import { describe, expect, it } from 'vitest';
import { ConnectorType } from '../../src/gen/echomind/public/connector_pb.js';
import type { RunningService } from '../../src/service.js';
import { createConnector } from '../support/integration.js';
import { syncViaNats } from '../support/service-harness.js';
import { freePort, recordFigure } from './support.js';
import { serviceSuite } from '../support/service-suite.js';

/**
 * Case 8 of the chaos suite (docs/RELIABILITY.md): a source that cannot be reached at all is a network
 * failure, not throttling. The sync ends in `error` with a message that names
 * the host and what failed, and never says it was throttled.
 */

let service: RunningService;
let deadPort: number;
let userId: number;

serviceSuite(
  {
    // Nothing listens here: every connection is refused.
    env: async () => {
      deadPort = await freePort();
      const dead = `http://127.0.0.1:${deadPort}`;
      return { MS_GRAPH_BASE_URL: `${dead}/v1.0`, MS_LOGIN_BASE_URL: dead, MS_GRAPH_CLIENT_ID: 'app', MS_GRAPH_CLIENT_SECRET: 'secret', MS_GRAPH_TENANT_ID: 'tenant' };
    },
  },
  (suite) => ({ service, userId } = suite),
);

describe('a source that cannot be reached', () => {
  it('ends the sync in error naming the host and the refused connection, not throttling', async () => {
    const connectorId = await createConnector(service.db, { type: 'onedrive', config: { drive_id: 'b!drive' }, userId });
    const startedAt = Date.now();

    const row = await syncViaNats(service, 'connector.sync.onedrive', { connectorId, type: ConnectorType.ONEDRIVE, userId });

    recordFigure('unreachable-source', { status: row.status, seconds: Math.round((Date.now() - startedAt) / 1000), message: row.status_message ?? '' });
    expect(row.status).toBe('error');
    expect(row.status_message).toContain(`could not reach 127.0.0.1:${deadPort}`);
    expect(row.status_message).toMatch(/ECONNREFUSED/);
    expect(row.status_message).not.toMatch(/throttl|retry in|rate limit/i);
  }, 600_000);
});
