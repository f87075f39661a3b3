/**
 * AWS Signature Version 4 for the few S3 calls the local stack makes itself (create a bucket,
 * list and read objects), with node:crypto: enough for a path-style endpoint on loopback.
 */
import { createHash, createHmac } from 'node:crypto';

export interface S3Credentials {
  accessKey: string;
  secretKey: string;
  region: string;
}

export interface SignInput {
  method: string;
  url: URL;
  /** Headers to send and sign (besides host, x-amz-date and x-amz-content-sha256). */
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** Default: now. */
  date?: Date;
  service?: string;
}

const emptyHash = createHash('sha256').update('').digest('hex');

function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/** RFC 3986 encoding as SigV4 wants it: everything but A-Z a-z 0-9 - _ . ~ (and / in paths). */
export function uriEncode(text: string, keepSlash = false): string {
  return [...Buffer.from(text, 'utf8')]
    .map((byte) => {
      const c = String.fromCharCode(byte);
      if (/[A-Za-z0-9\-_.~]/.test(c) || (keepSlash && c === '/')) return c;
      return `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
    })
    .join('');
}

function amzDate(date: Date): string {
  return date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

/** The headers that sign the request: its own, plus host, x-amz-date, x-amz-content-sha256, Authorization. */
export function signRequest(input: SignInput, credentials: S3Credentials): Record<string, string> {
  const date = input.date ?? new Date();
  const stamp = amzDate(date);
  const day = stamp.slice(0, 8);
  const service = input.service ?? 's3';
  const payloadHash = input.body === undefined ? emptyHash : sha256Hex(input.body);
  const headers: Record<string, string> = {
    ...(input.headers ?? {}),
    host: input.url.host,
    'x-amz-date': stamp,
    'x-amz-content-sha256': payloadHash,
  };
  const names = Object.keys(headers)
    .map((name) => name.toLowerCase())
    .sort();
  const lower = Object.fromEntries(
    Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v.trim().replace(/\s+/g, ' ')]),
  );
  const canonicalHeaders = names.map((name) => `${name}:${lower[name]}\n`).join('');
  const signedHeaders = names.join(';');
  const query = [...input.url.searchParams.entries()]
    .map(([k, v]) => [uriEncode(k), uriEncode(v)] as const)
    .sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const path = uriEncode(decodeURIComponent(input.url.pathname || '/'), true);
  const canonicalRequest = [
    input.method.toUpperCase(),
    path,
    query,
    canonicalHeaders,
    signedHeaders,
    payloadHash,
  ].join('\n');
  const scope = `${day}/${credentials.region}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', stamp, scope, sha256Hex(canonicalRequest)].join('\n');
  const key = hmac(
    hmac(hmac(hmac(`AWS4${credentials.secretKey}`, day), credentials.region), service),
    'aws4_request',
  );
  const signature = createHmac('sha256', key).update(stringToSign, 'utf8').digest('hex');
  return {
    ...headers,
    authorization: `AWS4-HMAC-SHA256 Credential=${credentials.accessKey}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`,
  };
}

export interface S3Answer {
  status: number;
  body: Buffer;
}

/** Sends one signed request; the answer's body whole. */
export async function s3Request(
  input: Omit<SignInput, 'date'>,
  credentials: S3Credentials,
): Promise<S3Answer> {
  const headers = signRequest(input, credentials);
  delete headers.host;
  const response = await fetch(input.url, {
    method: input.method,
    headers,
    ...(input.body !== undefined ? { body: input.body } : {}),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: response.status, body: Buffer.from(await response.arrayBuffer()) };
}
