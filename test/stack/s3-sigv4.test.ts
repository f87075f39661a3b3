import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { signRequest, uriEncode } from '../../src/stack/s3-sigv4';

// The examples of AWS's "Signature Calculations for the Authorization Header" (S3 API reference).
const credentials = {
  accessKey: 'AKIAIOSFODNN7EXAMPLE',
  secretKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  region: 'us-east-1',
};
const date = new Date('2013-05-24T00:00:00Z');

function signatureOf(headers: Record<string, string>): string | undefined {
  return /Signature=([0-9a-f]{64})$/.exec(headers.authorization ?? '')?.[1];
}

void describe('S3 signature version 4', () => {
  void it('signs AWS’s GET Object example', () => {
    const headers = signRequest(
      {
        method: 'GET',
        url: new URL('https://examplebucket.s3.amazonaws.com/test.txt'),
        headers: { Range: 'bytes=0-9' },
        date,
      },
      credentials,
    );
    assert.equal(
      signatureOf(headers),
      'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
    );
    assert.match(
      headers.authorization ?? '',
      /^AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE\/20130524\/us-east-1\/s3\/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, /,
    );
    assert.equal(headers['x-amz-date'], '20130524T000000Z');
  });

  void it('signs AWS’s PUT Object example, with a body', () => {
    const headers = signRequest(
      {
        method: 'PUT',
        url: new URL('https://examplebucket.s3.amazonaws.com/test$file.text'),
        headers: {
          Date: 'Fri, 24 May 2013 00:00:00 GMT',
          'x-amz-storage-class': 'REDUCED_REDUNDANCY',
        },
        body: 'Welcome to Amazon S3.',
        date,
      },
      credentials,
    );
    assert.equal(
      signatureOf(headers),
      '98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd',
    );
  });

  void it('signs AWS’s list example, query sorted and encoded', () => {
    const headers = signRequest(
      {
        method: 'GET',
        url: new URL('https://examplebucket.s3.amazonaws.com/?max-keys=2&prefix=J'),
        date,
      },
      credentials,
    );
    assert.equal(
      signatureOf(headers),
      '34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7',
    );
  });

  void it('encodes as RFC 3986 says', () => {
    assert.equal(uriEncode('a b/c~d*é'), 'a%20b%2Fc~d%2A%C3%A9');
    assert.equal(uriEncode('/backups/x y', true), '/backups/x%20y');
  });
});
