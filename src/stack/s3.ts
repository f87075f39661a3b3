/**
 * A local S3 server for Velero's backups: versitygw (Apache-2.0) with its posix backend on a
 * per-run folder, listening on 127.0.0.1, with per-run random root credentials handed to it
 * through its environment (never its command line), and one bucket made for the run.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { freePort } from './prometheus';
import { s3Request, type S3Credentials } from './s3-sigv4';
import { killGroup, startServerProcess, type ServerProcess } from './cluster/process';
import { clusterToolPath } from './tools';

export interface S3ServerOptions {
  /** The bucket made at start; default `velero`. */
  bucket?: string;
  /** Where the objects live; kept on stop when given, in the run's temporary folder (removed on stop) when absent. */
  dataDir?: string;
  /** Default: a free port on 127.0.0.1. */
  port?: number;
  /** Where versitygw's output goes; a file in the run's temporary folder when absent. */
  logFile?: string;
  /** Default `us-east-1`. */
  region?: string;
  /** How long to wait for the server to answer; default 30 s. */
  readyTimeoutMs?: number;
}

export interface S3Object {
  key: string;
  size: number;
}

export interface S3Server {
  /** http://127.0.0.1:PORT, path-style (`<endpoint>/<bucket>/<key>`). */
  endpoint: string;
  bucket: string;
  region: string;
  accessKey: string;
  secretKey: string;
  /** The posix backend's folder: one subfolder per bucket, one file per object. */
  dataDir: string;
  /** The objects of the bucket under prefix, through the S3 API. */
  listObjects(prefix?: string): Promise<S3Object[]>;
  /** One object's content, through the S3 API; throws when it is missing. */
  getObject(key: string): Promise<Buffer>;
  /** Stops versitygw and removes the data folder unless it was given. Idempotent. */
  stop(): Promise<void>;
}

/** versitygw's own name, for errors. */
const name = 'versitygw';

function xmlText(text: string): string {
  return text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');
}

/** The keys and sizes of a ListObjectsV2 answer, and its continuation token. */
export function parseListObjects(xml: string): { objects: S3Object[]; next?: string } {
  const objects: S3Object[] = [];
  for (const match of xml.matchAll(/<Contents>([\s\S]*?)<\/Contents>/g)) {
    const body = match[1] ?? '';
    const key = /<Key>([\s\S]*?)<\/Key>/.exec(body)?.[1];
    const size = /<Size>(\d+)<\/Size>/.exec(body)?.[1];
    if (key !== undefined) objects.push({ key: xmlText(key), size: Number(size ?? 0) });
  }
  const truncated = /<IsTruncated>true<\/IsTruncated>/.test(xml);
  const next = /<NextContinuationToken>([\s\S]*?)<\/NextContinuationToken>/.exec(xml)?.[1];
  return truncated && next ? { objects, next: xmlText(next) } : { objects };
}

async function waitListening(
  endpoint: string,
  service: ServerProcess,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (service.hasExited()) throw new Error(`${name} did not start: ${service.describe()}`);
    try {
      // Any answer (403 to an unsigned request) means it serves.
      const response = await fetch(endpoint, { signal: AbortSignal.timeout(1_000) });
      await response.body?.cancel();
      return;
    } catch {
      await delay(100);
    }
  }
  throw new Error(
    `${name} at ${endpoint} did not answer within ${timeoutMs} ms: ${service.describe()}`,
  );
}

async function startOnce(options: S3ServerOptions, port: number): Promise<S3Server> {
  const runDir = await mkdtemp(join(tmpdir(), 'changectl-s3-'));
  const dataDir = options.dataDir ?? join(runDir, 'data');
  await mkdir(dataDir, { recursive: true });
  const bucket = options.bucket ?? 'velero';
  const region = options.region ?? 'us-east-1';
  const credentials: S3Credentials = {
    accessKey: `changectl${randomBytes(6).toString('hex')}`,
    secretKey: randomBytes(24).toString('base64url'),
    region,
  };
  const endpoint = `http://127.0.0.1:${port}`;
  // The credentials go in its environment: a command line is world-readable in /proc.
  const service = startServerProcess(
    name,
    clusterToolPath('versitygw'),
    ['--port', `127.0.0.1:${port}`, '--region', region, 'posix', dataDir],
    {
      logFile: options.logFile ?? join(runDir, `${name}.log`),
      env: {
        PATH: process.env.PATH ?? '',
        HOME: runDir,
        ROOT_ACCESS_KEY: credentials.accessKey,
        ROOT_SECRET_KEY: credentials.secretKey,
      },
      cwd: runDir,
    },
  );
  // A test process that exits without stop() leaves neither server nor files.
  const killOnExit = (): void => {
    if (service.child.pid) killGroup(service.child.pid, 'SIGKILL');
    rmSync(runDir, { recursive: true, force: true });
  };
  process.once('exit', killOnExit);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await service.stop();
      process.removeListener('exit', killOnExit);
      await rm(runDir, { recursive: true, force: true, maxRetries: 3 });
    })();
    return stopping;
  };

  const url = (path: string): URL => new URL(`${endpoint}/${path}`);
  try {
    await waitListening(endpoint, service, options.readyTimeoutMs ?? 30_000);
    const made = await s3Request({ method: 'PUT', url: url(bucket) }, credentials);
    if (made.status !== 200) {
      throw new Error(
        `${name}: CreateBucket ${bucket} answered ${made.status}: ${made.body.toString('utf8')}`,
      );
    }
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    endpoint,
    bucket,
    region,
    accessKey: credentials.accessKey,
    secretKey: credentials.secretKey,
    dataDir,
    async listObjects(prefix = '') {
      const objects: S3Object[] = [];
      let token: string | undefined;
      do {
        const query = new URLSearchParams({ 'list-type': '2', prefix });
        if (token) query.set('continuation-token', token);
        const answer = await s3Request(
          { method: 'GET', url: url(`${bucket}?${query.toString()}`) },
          credentials,
        );
        if (answer.status !== 200) {
          throw new Error(`${name}: ListObjectsV2 ${bucket} answered ${answer.status}`);
        }
        const page = parseListObjects(answer.body.toString('utf8'));
        objects.push(...page.objects);
        token = page.next;
      } while (token);
      return objects;
    },
    async getObject(key) {
      const path = key
        .split('/')
        .map((part) => encodeURIComponent(part))
        .join('/');
      const answer = await s3Request({ method: 'GET', url: url(`${bucket}/${path}`) }, credentials);
      if (answer.status !== 200) {
        throw new Error(`${name}: GetObject ${bucket}/${key} answered ${answer.status}`);
      }
      return answer.body;
    },
    stop,
  };
}

/** Starts versitygw, makes the bucket, and resolves once both are done. */
export async function startS3(options: S3ServerOptions = {}): Promise<S3Server> {
  if (options.port !== undefined) return startOnce(options, options.port);
  // A free port can be taken before versitygw binds it; pick another then.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options, await freePort());
    } catch (error) {
      const inUse = error instanceof Error && /address already in use/.test(error.message);
      if (!inUse || attempt >= 3) throw error;
    }
  }
}
