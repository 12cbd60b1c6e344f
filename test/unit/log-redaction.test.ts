import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';

/**
 * What an operator reads in the logs: secrets censored wherever they sit (by
 * their key, at any depth, or by their shape in any string), and nothing else.
 */

function capture() {
  const lines: string[] = [];
  const logger = createLogger('debug', { write: (line: string) => lines.push(line) } as unknown as NodeJS.WritableStream);
  const last = () => JSON.parse(lines.at(-1) ?? '{}') as Record<string, unknown>;
  return { logger, lines, last };
}

const JWT = 'eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJjb25uZWN0b3IifQ.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg';

describe('log redaction', () => {
  it("keeps what is not a secret: the Temporal SDK's worker state, a connector's drive id, a listing position", () => {
    const { logger, lines, last } = capture();
    logger.child({ component: 'temporal-sdk' }).info({ temporal: true, sdkComponent: 'worker', taskQueue: 'echomind-connector', state: 'RUNNING' }, 'Worker state changed');
    expect(last()).toMatchObject({ state: 'RUNNING', taskQueue: 'echomind-connector', msg: 'Worker state changed' });
    logger.info({ connectorId: 7, config: { drive_id: 'b!abc', folder_path: '/Reports' }, nextPageToken: '~!!~AI9FV7R' }, 'loaded connector');
    expect(last()).toMatchObject({ config: { drive_id: 'b!abc', folder_path: '/Reports' }, nextPageToken: '~!!~AI9FV7R' });
    expect(lines.join('\n')).not.toContain('[redacted]');
  });

  it('writes an object met twice in full, and a loop once', () => {
    const { logger, last } = capture();
    const scope = { driveId: 'b!abc' };
    const loop: Record<string, unknown> = { name: 'loop' };
    loop.self = loop;
    logger.info({ from: scope, to: scope, loop }, 'moved');
    expect(last()).toMatchObject({ from: { driveId: 'b!abc' }, to: { driveId: 'b!abc' }, loop: { name: 'loop', self: '[circular]' } });
  });

  it('censors known secret keys at any depth and in any spelling', () => {
    const { logger, lines, last } = capture();
    const secrets = ['s-client', 's-refresh', 's-nested', 's-header', 's-minio', 's-api', 's-key', 's-array'];
    logger.warn(
      {
        request: {
          config: { client_secret: 's-client', nested: { deeper: { token: 's-nested' } } },
          state: { refresh_token: 's-refresh' },
          headers: { Authorization: 's-header' },
        },
        settings: { MINIO_SECRET_KEY: 's-minio', temporalApiKey: 's-api', private_key: 's-key' },
        grants: [{ accessToken: 's-array' }],
      },
      'request received',
    );
    const text = lines.join('\n');
    for (const secret of secrets) expect(text).not.toContain(secret);
    expect(last()).toMatchObject({
      request: { config: { client_secret: '[redacted]', nested: { deeper: { token: '[redacted]' } } }, state: { refresh_token: '[redacted]' } },
      settings: { MINIO_SECRET_KEY: '[redacted]' },
      grants: [{ accessToken: '[redacted]' }],
    });
  });

  it('censors secrets by their shape in any field, message, error or child binding', () => {
    const { logger, lines } = capture();
    const presigned = 'https://s3.example.test/bucket/key?X-Amz-Credential=AKIA123%2F20261204&X-Amz-Signature=0123456789abcdef&X-Amz-Expires=900';
    logger.info({ detail: `token endpoint answered with ${JWT}`, url: presigned }, 'stored');
    logger.info({ header: 'Bearer abcdefghijklmnop123' }, `retrying with ${JWT}`);
    logger.error({ err: new Error('could not connect to postgresql://echomind:hunter2-pw@db:5432/echomind') }, 'database down');
    logger.info({ body: 'grant_type=refresh_token&refresh_token=1//0gRefreshSecret&client_id=app' }, 'token request');
    logger.child({ key: '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----\n' }).info('child');
    logger.info({ token: 'ya29.a0AfH6SMBgoogle' }, 'google token ya29.a0AfH6SMBgoogle');
    const text = lines.join('\n');
    for (const secret of [JWT, '0123456789abcdef', 'AKIA123', 'abcdefghijklmnop123', 'hunter2-pw', '1//0gRefreshSecret', 'MIIEvQIBADANBg', 'ya29.a0AfH6SMBgoogle']) {
      expect(text).not.toContain(secret);
    }
    // What a person needs stays: where, which object, how long the link lives, who connected.
    expect(text).toContain('https://s3.example.test/bucket/key?X-Amz-Credential=[redacted]');
    expect(text).toContain('X-Amz-Expires=900');
    expect(text).toContain('postgresql://[redacted]@db:5432/echomind');
    expect(text).toContain('client_id=app');
    expect(text).toContain('Bearer [redacted]');
  });
});
