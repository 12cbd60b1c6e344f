import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { withLogContext } from '../../src/telemetry/log-context.js';

function capture() {
  const lines: string[] = [];
  const logger = createLogger('info', { write: (line: string) => lines.push(line) } as unknown as NodeJS.WritableStream);
  return { logger, lines };
}

describe('log context of a sync', () => {
  it('puts connectorId, workflowId and runId on every line written inside an activity, however deep', async () => {
    const { logger, lines } = capture();
    await withLogContext({ connectorId: 7, workflowId: 'connector-sync-7', runId: 'run-1' }, async () => {
      logger.info('listing');
      await new Promise((r) => setTimeout(r, 1));
      logger.child({ sourceId: 'file-1' }).warn('retrying');
    });
    logger.info('outside');
    const [listing, retrying, outside] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(listing).toMatchObject({ connectorId: 7, workflowId: 'connector-sync-7', runId: 'run-1', msg: 'listing' });
    expect(retrying).toMatchObject({ connectorId: 7, workflowId: 'connector-sync-7', runId: 'run-1', sourceId: 'file-1' });
    expect(outside).not.toHaveProperty('workflowId');
  });

  it('writes each key once when a child logger already binds it', () => {
    const { logger, lines } = capture();
    withLogContext({ connectorId: 7, workflowId: 'connector-sync-7', runId: 'run-1' }, () => logger.child({ connectorId: 7 }).info('stored file'));
    expect(lines[0]?.match(/"connectorId"/g)).toHaveLength(1);
    expect(JSON.parse(lines[0] ?? '{}')).toMatchObject({ connectorId: 7, workflowId: 'connector-sync-7', runId: 'run-1' });
  });
});
