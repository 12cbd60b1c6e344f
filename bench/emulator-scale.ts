/**
 * What a large drive costs the Graph emulator: seeds one drive of `--files` files (as the
 * benchmark does) and measures the time to seed, the emulator's RSS, and the time of the first
 * and the second delta page (the first walks and snapshots the whole tree).
 *
 *   npx tsx bench/emulator-scale.ts --files 1000000
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { ChildRpc } from './child.js';
import type { EmulatorReady } from './emulator-process.js';
import { rssMiB } from './proc.js';

const { values: args } = parseArgs({ options: { files: { type: 'string', default: '1000000' }, 'small-kib': { type: 'string', default: '8' } } });
const repoRoot = fileURLToPath(new URL('../', import.meta.url));
const files = Number(args.files);

const emulator = ChildRpc.start<EmulatorReady>('emulator', `${repoRoot}bench/emulator-process.ts`, {
  execPath: `${repoRoot}node_modules/.bin/node`,
  cwd: repoRoot,
  env: { PATH: process.env.PATH ?? '' },
});
const emu = await emulator.ready;
const rssAtStart = rssMiB(emulator.pid);
const t = performance.now();
const { driveId } = await emulator.call<{ driveId: string }>({ op: 'seed', files, sizeBytes: Number(args['small-kib']) * 1024, folders: 20 });
const seedSeconds = (performance.now() - t) / 1000;
const rssAfterSeed = rssMiB(emulator.pid);

const tokenAnswer = await fetch(`${emu.loginBaseUrl}/${emu.tenantId}/oauth2/v2.0/token`, {
  method: 'POST',
  body: new URLSearchParams({ grant_type: 'client_credentials', client_id: emu.clientId, client_secret: emu.clientSecret, scope: 'https://graph.microsoft.com/.default' }),
});
const { access_token: token } = (await tokenAnswer.json()) as { access_token: string };
const page = async (url: string) => {
  const started = performance.now();
  const answer = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  const body = (await answer.json()) as { value: unknown[]; '@odata.nextLink'?: string };
  return { seconds: (performance.now() - started) / 1000, items: body.value.length, next: body['@odata.nextLink'] };
};
const first = await page(`${emu.graphBaseUrl}/drives/${encodeURIComponent(driveId)}/root/delta?$top=200`);
const second = first.next ? await page(first.next) : undefined;
const rssAfterWalk = rssMiB(emulator.pid);
await emulator.close();

const results = {
  date: new Date().toISOString(),
  files,
  seedSeconds: Number(seedSeconds.toFixed(1)),
  emulatorRssMiB: { atStart: Number(rssAtStart.toFixed(1)), afterSeed: Number(rssAfterSeed.toFixed(1)), afterFirstDeltaPage: Number(rssAfterWalk.toFixed(1)) },
  firstDeltaPageSeconds: Number(first.seconds.toFixed(2)),
  secondDeltaPageSeconds: Number((second?.seconds ?? 0).toFixed(3)),
  itemsPerPage: first.items,
};
mkdirSync(`${repoRoot}bench/results`, { recursive: true });
const file = `${repoRoot}bench/results/emulator-scale-${files}.json`;
writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
process.stdout.write(`${JSON.stringify(results, null, 2)}\nwritten to ${file}\n`);
