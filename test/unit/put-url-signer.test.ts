import * as Minio from 'minio';
import { describe, expect, it } from 'vitest';
import { PresigningClient } from '../../src/storage/put-url-signer.js';

/**
 * Our presigned PUT URL must be the one minio makes, byte for byte: the store
 * checks the signature over exactly these bytes. Both clients are given the
 * region, so neither asks a server for the bucket's.
 */
const settings = { accessKey: 'AKIDEXAMPLE', secretKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', region: 'eu-west-3' };

const keys = [
  'connectors/7/01ABCDEF/report.pdf',
  'connectors/7/01ABCDEF/Quarterly report (final) v2.docx',
  "connectors/7/x/it's *the* plan!.txt",
  'connectors/7/x/100% + 50%=150% & more #1?.txt',
  'connectors/7/x/déjà vu — Ünïcödé 日本語.md',
  'connectors/7/x/   spaced   out   .txt',
];

const dates = [new Date('2026-12-04T19:30:12.345Z'), new Date('2026-12-04T23:59:59.999Z'), new Date('2026-12-05T00:00:00.000Z'), new Date('2027-02-28T08:05:00.000Z')];

describe('presigned PUT URLs with the signing key kept for the day', () => {
  it.each([
    ['path style over http', { endPoint: '127.0.0.1', port: 9000, useSSL: false, pathStyle: true }],
    ['path style over https on the default port', { endPoint: 'store.example.com', useSSL: true, pathStyle: true }],
    ['virtual-host style on AWS', { endPoint: 's3.amazonaws.com', useSSL: true }],
  ])('are the URLs minio makes, for every key and across days (%s)', async (_name, endpoint) => {
    const ours = new PresigningClient({ ...settings, ...endpoint });
    const minio = new Minio.Client({ ...settings, ...endpoint });
    for (const date of dates) {
      for (const key of keys) {
        const url = await ours.presignedPutUrl('documents', key, 3600, date);
        expect(url).toBe(await minio.presignedUrl('PUT', 'documents', key, 3600, {}, date));
      }
    }
  });

  it('sign with the new day\'s key after midnight, not the day before\'s', async () => {
    const ours = new PresigningClient({ ...settings, endPoint: '127.0.0.1', port: 9000, useSSL: false, pathStyle: true });
    const before = await ours.presignedPutUrl('documents', 'a.txt', 3600, new Date('2026-12-04T23:59:59Z'));
    const after = await ours.presignedPutUrl('documents', 'a.txt', 3600, new Date('2026-12-05T00:00:01Z'));
    expect(before).toContain('X-Amz-Credential=AKIDEXAMPLE%2F20261204%2Feu-west-3%2Fs3%2Faws4_request');
    expect(after).toContain('X-Amz-Credential=AKIDEXAMPLE%2F20261205%2Feu-west-3%2Fs3%2Faws4_request');
    const minio = new Minio.Client({ ...settings, endPoint: '127.0.0.1', port: 9000, useSSL: false, pathStyle: true });
    expect(after).toBe(await minio.presignedUrl('PUT', 'documents', 'a.txt', 3600, {}, new Date('2026-12-05T00:00:01Z')));
  });

  it('leave temporary credentials to minio itself', async () => {
    const withToken = { ...settings, sessionToken: 'FQoGZXIvYXdzEXAMPLETOKEN', endPoint: '127.0.0.1', port: 9000, useSSL: false, pathStyle: true };
    const date = dates[0] as Date;
    const url = await new PresigningClient(withToken).presignedPutUrl('documents', 'a.txt', 3600, date);
    expect(url).toContain('X-Amz-Security-Token=');
    expect(url).toBe(await new Minio.Client(withToken).presignedUrl('PUT', 'documents', 'a.txt', 3600, {}, date));
  });
});
