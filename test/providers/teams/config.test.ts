import { describe, expect, it } from 'vitest';
import { parseTeamsConfig, teamsScopeKey } from '../../../src/providers/microsoft-graph/teams/config.js';
import { parseTeamsCursor } from '../../../src/providers/microsoft-graph/teams/cursor.js';
import { isMicrosoft365Url, shareToken } from '../../../src/providers/microsoft-graph/teams/links.js';

describe('Teams connector config', () => {
  it('reads the team, the channels (list or comma-separated) and the defaults', () => {
    expect(parseTeamsConfig({ team_id: ' t1 ' })).toEqual({ teamId: 't1', channelIds: null, pageSize: 20, includeFiles: true, includePrivateChannels: false, fullEnumerationDays: 7 });
    expect(parseTeamsConfig({ team_id: 't1', channel_ids: '19:a@thread.tacv2, 19:b@thread.tacv2', page_size: '50', include_files: false, full_enumeration_days: 0 })).toEqual({
      teamId: 't1',
      channelIds: ['19:a@thread.tacv2', '19:b@thread.tacv2'],
      pageSize: 50,
      includeFiles: false,
      includePrivateChannels: false,
      fullEnumerationDays: 0,
    });
    expect(parseTeamsConfig({ team_id: 't1', include_private_channels: true }).includePrivateChannels).toBe(true);
  });

  it('names the bad key and never echoes its value', () => {
    const secret = 'super-secret-value';
    const error = (config: Record<string, unknown>) => {
      try {
        parseTeamsConfig(config);
      } catch (e) {
        return (e as Error).message;
      }
      return 'no error';
    };
    expect(error({})).toBe('connector config "team_id" is missing: name the team to sync');
    expect(error({ team_id: '   ' })).toMatch(/"team_id" is missing/);
    expect(error({ team_id: 't', page_size: 51 })).toBe('connector config "page_size" must be a whole number from 1 to 50');
    expect(error({ team_id: 't', channel_ids: [secret, 7] })).toBe('connector config "channel_ids" must be a list of channel ids');
    expect(error({ team_id: 't', include_files: secret })).toBe('connector config "include_files" must be true or false');
    expect(error({ team_id: { secret } })).not.toContain(secret);
  });

  it('gives a scope key that changes with the team, the channel set and the files choice only', () => {
    const key = (c: Record<string, unknown>) => teamsScopeKey(parseTeamsConfig(c));
    expect(key({ team_id: 't', channel_ids: ['b', 'a'] })).toBe(key({ team_id: 't', channel_ids: 'a,b', page_size: 5 }));
    expect(key({ team_id: 't' })).not.toBe(key({ team_id: 't', include_files: false }));
  });
});

describe('Teams cursor', () => {
  const cursor = (link: string) => ({
    v: 2,
    scope: 't * files:true',
    teamName: 'T',
    channels: [{ id: '19:a@thread.tacv2', name: 'A', membershipType: 'standard', messages: { mode: 'delta', link }, messagesDone: true, files: null, filesDone: true }],
    drives: [],
    position: 0,
    inPass: false,
    enumerating: false,
  });
  /** As saved before one delta per drive: each channel with its own files cursor. */
  const perChannel = (link: string) => ({
    ...cursor(link),
    v: 1,
    channels: [{ ...cursor(link).channels[0], files: { driveId: 'd1', folderId: 'f1', cursor: null } }],
  });
  it('reads back what it wrote, and refuses links outside this Graph deployment or malformed state', () => {
    const graph = 'https://graph.microsoft.com/v1.0';
    expect(parseTeamsCursor(cursor(`${graph}/teams/t/channels/x/messages/delta?$deltatoken=1`), graph)).not.toBeNull();
    expect(parseTeamsCursor(cursor('https://evil.example/v1.0/teams/t/messages/delta'), graph)).toBeNull();
    expect(parseTeamsCursor({ v: 2 }, graph)).toBeNull();
    // A per-channel files cursor is read as such (to be replaced), with the same link check.
    expect(parseTeamsCursor(perChannel(`${graph}/teams/t/channels/x/messages/delta?$deltatoken=1`), graph)).toMatchObject({ v: 1 });
    expect(parseTeamsCursor(perChannel('https://evil.example/v1.0/teams/t/messages/delta'), graph)).toBeNull();
  });
});

describe('attachment link guard', () => {
  it('accepts SharePoint and OneDrive https hosts only', () => {
    expect(isMicrosoft365Url('https://contoso.sharepoint.com/sites/x/Shared%20Documents/a.pdf')).toBe(true);
    expect(isMicrosoft365Url('https://contoso-my.sharepoint.com/personal/a/Documents/b.docx')).toBe(true);
    expect(isMicrosoft365Url('https://onedrive.live.com/?id=1')).toBe(true);
  });
  it('refuses internal addresses, cloud metadata, look-alikes, other schemes, credentials and ports', () => {
    for (const url of [
      'http://127.0.0.1:8080/admin',
      'https://127.0.0.1/a.pdf',
      'http://169.254.169.254/latest/meta-data/',
      'https://[::1]/x',
      'https://evilsharepoint.com/a',
      'https://sharepoint.com.evil.example/a',
      'http://contoso.sharepoint.com/a',
      'https://user:pw@contoso.sharepoint.com/a',
      'https://contoso.sharepoint.com:8443/a',
      'file:///etc/passwd',
      'not a url',
    ]) expect(isMicrosoft365Url(url), url).toBe(false);
  });
  it('encodes a link as Graph sharing token', () => {
    expect(shareToken('https://contoso.sharepoint.com/a?b=c')).toBe(`u!${Buffer.from('https://contoso.sharepoint.com/a?b=c').toString('base64url')}`);
    expect(shareToken('https://x.sharepoint.com/a')).not.toMatch(/[=+/]/);
  });
});
