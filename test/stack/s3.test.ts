import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseListObjects, startS3 } from '../../src/stack/s3';
import { s3Request } from '../../src/stack/s3-sigv4';

void describe('local S3 server (versitygw)', () => {
  void it('reads a ListObjectsV2 answer, escaped keys and continuation included', () => {
    const xml =
      '<ListBucketResult><IsTruncated>true</IsTruncated>' +
      '<Contents><Key>backups/a&amp;b/x.tar.gz</Key><Size>12</Size></Contents>' +
      '<Contents><Key>k2</Key><Size>0</Size></Contents>' +
      '<NextContinuationToken>t&amp;1</NextContinuationToken></ListBucketResult>';
    assert.deepEqual(parseListObjects(xml), {
      objects: [
        { key: 'backups/a&b/x.tar.gz', size: 12 },
        { key: 'k2', size: 0 },
      ],
      next: 't&1',
    });
    assert.deepEqual(parseListObjects('<ListBucketResult></ListBucketResult>'), { objects: [] });
  });

  void it('serves a bucket with per-run credentials, and refuses others', async (t) => {
    const dataDir = await mkdtemp(join(tmpdir(), 's3-test-'));
    t.after(() => rm(dataDir, { recursive: true, force: true }));
    const s3 = await startS3({ bucket: 'backups', dataDir });
    t.after(() => s3.stop());
    assert.match(s3.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(s3.bucket, 'backups');
    const other = await startS3();
    t.after(() => other.stop());
    assert.notEqual(other.accessKey, s3.accessKey);
    assert.notEqual(other.secretKey, s3.secretKey);
    assert.ok(s3.secretKey.length >= 32);

    const credentials = { accessKey: s3.accessKey, secretKey: s3.secretKey, region: s3.region };
    const put = await s3Request(
      {
        method: 'PUT',
        url: new URL(`${s3.endpoint}/backups/backups/b 1/b.tar.gz`),
        body: 'tarball',
      },
      credentials,
    );
    assert.equal(put.status, 200, put.body.toString('utf8'));
    assert.deepEqual(await s3.listObjects('backups/'), [{ key: 'backups/b 1/b.tar.gz', size: 7 }]);
    assert.equal((await s3.getObject('backups/b 1/b.tar.gz')).toString('utf8'), 'tarball');
    await assert.rejects(
      s3.getObject('backups/missing'),
      /GetObject backups\/backups\/missing answered 404/,
    );

    // Wrong secret, or no signature at all: refused.
    const forged = await s3Request(
      { method: 'GET', url: new URL(`${s3.endpoint}/backups?list-type=2`) },
      { ...credentials, secretKey: other.secretKey },
    );
    assert.equal(forged.status, 403);
    const anonymous = await fetch(`${s3.endpoint}/backups?list-type=2`);
    await anonymous.body?.cancel();
    assert.equal(anonymous.status, 403);

    // The objects are files of the given folder, which stop keeps.
    await s3.stop();
    assert.ok((await readdir(dataDir)).includes('backups'));
    await assert.rejects(fetch(s3.endpoint));
  });

  void it('removes its own data folder on stop', async (t) => {
    const s3 = await startS3();
    t.after(() => s3.stop());
    assert.ok(existsSync(join(s3.dataDir, 'velero')), 'the default bucket is a folder');
    await s3.stop();
    assert.equal(existsSync(s3.dataDir), false);
  });
});
