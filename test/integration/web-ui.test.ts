import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { ConnectorType } from '../../src/gen/echomind/public/connector_pb.js';
import { pauseSignal, resumeSignal } from '../../workflows/controls.js';
import { progressQuery, type SyncResult } from '../../workflows/definitions.js';
import { createConnector, waitFor } from '../support/integration.js';
import { documentsOf, publishSyncRequest, syncRequestBytes } from '../support/service-harness.js';
import { serviceSuite } from '../support/service-suite.js';

/**
 * The real Temporal Web UI in headless Chromium (Debian's `chromium`, installed
 * by `bash scripts/stack.sh chromium`; CI runs that step): a running sync's page
 * shows its static summary and details and the live current details, and the
 * test keeps a screenshot (test-artifacts/web-ui-running-sync.png; the one in
 * docs/ was taken by this test). Without Chromium the test is skipped with the
 * reason, except in CI, where a missing browser fails it.
 */

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const chromiumPath = ['/usr/bin/chromium', process.env.CHROMIUM_PATH].find((p) => p && existsSync(p));
const uiUrl = process.env.TEMPORAL_UI_URL ?? `http://127.0.0.1:${process.env.TEMPORAL_UI_PORT ?? '8233'}`;
const skipReason = chromiumPath ? undefined : 'Chromium is not installed: run "bash scripts/stack.sh chromium" (Debian\'s chromium package) to run the Web UI test';
if (skipReason && !process.env.CI) console.warn(`web-ui.test.ts skipped: ${skipReason}`);

let browser: Browser | undefined;

afterAll(async () => {
  await browser?.close();
});

describe.skipIf(skipReason !== undefined && !process.env.CI)('the Temporal Web UI', () => {
  const suite = serviceSuite({ graph: true });

  it("shows a running sync's summary, details and live progress (screenshot kept)", async () => {
    if (!chromiumPath) throw new Error(skipReason);
    const { service, graph, config, userId } = suite;
    const ids = Array.from({ length: 4 }, (_, i) => graph.addFile('/', `report-${i + 1}.pdf`, `%PDF report ${i + 1}`).id);
    for (const id of ids) graph.faults.push({ match: new RegExp(`/items/${id}/content$`), status: 429, retryAfter: '1' });
    const connectorId = await createConnector(service.db, { type: 'onedrive', config: { drive_id: graph.drive.id, page_size: 1 }, userId });
    await service.db.updateTable('connectors').set({ name: 'Marketing files' }).where('id', '=', connectorId).execute();

    // A sync as the orchestrator starts it, held at a page boundary so the page is stable while it is read.
    await publishSyncRequest(service, 'connector.sync.onedrive', syncRequestBytes({ connectorId, type: ConnectorType.ONEDRIVE, userId, chunkingSession: 'chunk-42' }));
    const handle = service.temporal.workflow.getHandle(`connector-sync-${connectorId}`);
    await waitFor('a first file', async () => (await documentsOf(service, connectorId)).length > 0);
    await handle.signal(pauseSignal, 'screenshot for the docs');
    await waitFor('the pause', async () => (await handle.query(progressQuery).catch(() => undefined))?.paused);
    const { runId } = await handle.describe();

    browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
    const page = await browser.newPage({ viewport: { width: 1600, height: 900 } });
    await page.goto(`${uiUrl}/namespaces/${config.temporal.namespace}/workflows/connector-sync-${connectorId}/${runId}/history`);
    await page.getByText(`OneDrive sync of connector ${connectorId} · Marketing files`).first().waitFor({ timeout: 60_000 });
    mkdirSync(join(repoRoot, 'test-artifacts'), { recursive: true });
    // The history page's timeline names each activity by its summary.
    await page.getByText('transferBatch • page 2: 1 file (report-1.pdf)', { exact: false }).first().waitFor({ timeout: 30_000 });
    // The User Metadata tab: static summary and details, the activities' summaries, and the
    // current details (rendered in a frame of their own).
    await page.getByText('User Metadata', { exact: true }).first().click();
    const text = await waitFor(
      'the current details on the page',
      async () => {
        let all = '';
        for (const frame of page.frames()) all += `${await frame.locator('body').innerText().catch(() => '')}\n`;
        return all.includes('Run 1 of this sync') && all;
      },
      30_000,
    );
    await page.screenshot({ path: join(repoRoot, 'test-artifacts', 'web-ui-running-sync.png') });

    expect(text).toContain(`OneDrive sync of connector ${connectorId} · Marketing files`);
    expect(text).toContain('Trigger: orchestrator');
    expect(text).toContain('Running');
    expect(text).toContain('list changes, page 1');
    expect(text).toContain('page 2: 1 file (report-1.pdf)');
    expect(text).toMatch(/Run 1 of this sync/);
    expect(text).toMatch(/So far:?\s*[1-3] new · 0 updated · 0 unchanged · 0 deleted · 0 failed/);
    expect(text).toMatch(/Throttled:?\s*\d+ waits?/);
    expect(text).toMatch(/Now:?\s*paused after page \d+ since \d\d:\d\d:\d\d UTC, cursor saved \(screenshot for the docs\)/);

    await handle.signal(resumeSignal);
    expect(((await handle.result()) as SyncResult).outcome).toBe('synced');
  });
});
