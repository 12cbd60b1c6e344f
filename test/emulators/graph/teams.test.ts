import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EMULATOR_CLIENT_ID, EMULATOR_CLIENT_SECRET, EMULATOR_TENANT, type GraphEmulator, startGraphEmulator } from './server.js';

/** The Teams half of the emulator keeps the promises of Graph's reference, and no more. */

let emulator: GraphEmulator;
let token: string;

beforeAll(async () => {
  emulator = await startGraphEmulator();
});
afterAll(async () => {
  await emulator.close();
});
beforeEach(async () => {
  emulator.reset();
  const response = await fetch(`${emulator.loginBaseUrl}/${EMULATOR_TENANT}/oauth2/v2.0/token`, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: EMULATOR_CLIENT_ID, client_secret: EMULATOR_CLIENT_SECRET, scope: 'https://graph.microsoft.com/.default' }),
  });
  token = ((await response.json()) as { access_token: string }).access_token;
});

interface Page {
  value: Array<Record<string, unknown>>;
  '@odata.nextLink'?: string;
  '@odata.deltaLink'?: string;
}

async function get(url: string, prefer = true): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url.startsWith('http') ? url : `${emulator.graphBaseUrl}${url}`, {
    headers: { authorization: `Bearer ${token}`, ...(prefer ? { prefer: 'include-unknown-enum-members' } : {}) },
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** A whole delta round: the ids it returned and its deltaLink. */
async function round(url: string): Promise<{ ids: string[]; removed: string[]; deltaLink: string }> {
  const ids: string[] = [];
  const removed: string[] = [];
  for (let next: string | undefined = url; next !== undefined; ) {
    const { status, body } = await get(next);
    if (status !== 200) throw new Error(`delta answered ${status}: ${JSON.stringify(body)}`);
    const page = body as unknown as Page;
    for (const m of page.value) (m['@removed'] ? removed : ids).push(String(m.id));
    if (page['@odata.deltaLink']) return { ids, removed, deltaLink: page['@odata.deltaLink'] };
    next = page['@odata.nextLink'];
  }
  throw new Error('a delta page had neither nextLink nor deltaLink');
}

const MONTH = 30 * 24 * 3600_000;

function setUp() {
  const team = emulator.teams.addTeam('T');
  const channel = emulator.teams.addChannel(team.id, 'General');
  const base = `/teams/${team.id}/channels/${encodeURIComponent(channel.id)}/messages`;
  return { team, channel, base };
}

describe('Graph emulator: Teams', () => {
  it('lists shared channels and system messages as unknownFutureValue unless asked not to', async () => {
    const { team, channel, base } = setUp();
    emulator.teams.addChannel(team.id, 'Ext', { membershipType: 'shared' });
    emulator.teams.post(channel, { messageType: 'systemEventMessage', html: '<systemEventMessage/>', author: null });
    const types = async (prefer: boolean) => ((await get(`/teams/${team.id}/channels`, prefer)).body.value as Array<{ membershipType: string }>).map((c) => c.membershipType);
    expect(await types(false)).toEqual(['standard', 'unknownFutureValue']);
    expect(await types(true)).toEqual(['standard', 'shared']);
    expect(((await get(base, false)).body.value as Array<{ messageType: string }>)[0]?.messageType).toBe('unknownFutureValue');
  });

  it('delta: roots only, at most $top 50, only the last eight months; the channel listing has every root', async () => {
    const { channel, base } = setUp();
    const old = emulator.teams.post(channel, { html: 'old', at: new Date(Date.now() - 9 * MONTH) });
    const recent = emulator.teams.post(channel, { html: 'recent' });
    emulator.teams.reply(channel, recent.id, { html: 'a reply' });
    expect((await get(`${base}/delta?$top=51`)).status).toBe(400);
    expect((await round(`${base}/delta?$top=1`)).ids).toEqual([recent.id]);
    expect(((await get(base)).body.value as Array<{ id: string }>).map((m) => m.id)).toEqual([recent.id, old.id]);
  });

  it('a plain delta round does not bring back a root for a reply; a lastModifiedDateTime-filtered one brings whole chains', async () => {
    const { channel, base } = setUp();
    const root = emulator.teams.post(channel, { html: 'root', at: new Date(Date.now() - 10 * MONTH) });
    const plain = await round(`${base}/delta`);
    const filtered = await round(`${base}/delta?$filter=${encodeURIComponent(`lastModifiedDateTime gt ${new Date(Date.now() - 60_000).toISOString()}`)}&$expand=replies`);
    expect(plain.ids).toEqual([]);
    expect(filtered.ids).toEqual([]);

    const reply = emulator.teams.reply(channel, root.id, { html: 'late reply' });
    expect((await round(plain.deltaLink)).ids).toEqual([]);
    const next = await round(filtered.deltaLink);
    expect(next.ids).toEqual([root.id]);
    const page = (await get(filtered.deltaLink)).body as unknown as Page;
    expect((page.value[0]?.replies as Array<{ id: string }>).map((r) => r.id)).toEqual([reply.id]);
    expect((await get(`${base}/delta?$filter=createdDateTime gt 2020-01-01T00:00:00Z`)).status).toBe(400);
  });

  it('reports a deleted root as @removed, keeps it as a tombstone, and refuses expired tokens with 410 or 400 syncStateNotFound', async () => {
    const { channel, base } = setUp();
    const root = emulator.teams.post(channel, { html: 'bye' });
    const first = await round(`${base}/delta`);
    emulator.teams.deleteMessage(channel, root.id);
    const second = await round(first.deltaLink);
    expect(second.removed).toEqual([root.id]);
    expect(((await get(`${base}/${root.id}`)).body as { deletedDateTime: string | null }).deletedDateTime).not.toBeNull();

    emulator.teams.expireDeltaTokens(channel, 410);
    expect((await get(second.deltaLink)).status).toBe(410);
    emulator.teams.expireDeltaTokens(channel, 400);
    const refused = await get(second.deltaLink);
    expect(refused.status).toBe(400);
    expect((refused.body.error as { code: string }).code).toBe('syncStateNotFound');
  });

  it('pages replies newest first, expands at most the configured number, serves hosted contents and resolves shares', async () => {
    const { channel, base } = setUp();
    emulator.expandedReplies = 2;
    const root = emulator.teams.post(channel, { html: '<img src="{{hosted:0}}">', hosted: [{ bytes: 'PNG', contentType: 'image/png' }] });
    const replies = [1, 2, 3].map((i) => emulator.teams.reply(channel, root.id, { html: `r${i}` }));
    const listed = ((await get(`${base}?$expand=replies`)).body.value as Array<Record<string, unknown>>)[0] ?? {};
    expect((listed.replies as Array<{ id: string }>).map((r) => r.id)).toEqual([replies[2]?.id, replies[1]?.id]);
    const rest = (await get(String(listed['replies@odata.nextLink']))).body as unknown as Page;
    expect(rest.value.map((r) => r.id)).toEqual([replies[0]?.id]);

    const src = /src="([^"]+)"/.exec(String((listed.body as { content: string }).content))?.[1] ?? '';
    const image = await fetch(src, { headers: { authorization: `Bearer ${token}` } });
    expect(image.headers.get('content-type')).toBe('image/png');
    expect(await image.text()).toBe('PNG');

    const file = emulator.addFile('/', 'a.pdf', '%PDF');
    const url = emulator.teams.shareUrl(file);
    const share = await get(`/shares/u!${Buffer.from(url).toString('base64url')}/driveItem`);
    expect(share.body.id).toBe(file.id);
    expect((await get(`/shares/u!${Buffer.from('https://contoso.sharepoint.com/unknown').toString('base64url')}/driveItem`)).status).toBe(404);
  });

  it('enforces the Teams budgets as token buckets when asked', async () => {
    const { base } = setUp();
    emulator.teamsLimits.enforce = true;
    const statuses = await Promise.all(Array.from({ length: 6 }, () => get(base).then((r) => r.status)));
    expect(statuses.filter((s) => s === 429)).toHaveLength(2);
    expect(emulator.teamsLimits.throttled).toBe(2);
  });
});
