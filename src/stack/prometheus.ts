/**
 * Runs a real Prometheus on loopback for the dev stack and the tests: a generated config that
 * scrapes the given targets, an optional rule file, a free port, and a storage folder that is
 * removed on stop unless the caller gave its own.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { toolPath } from './tools';

export interface PrometheusServerOptions {
  /** Metrics endpoints to scrape, as URLs (`http://127.0.0.1:9100/metrics`). */
  targets: string[];
  /** Scrape and rule evaluation interval; default 1 s. */
  scrapeIntervalMs?: number;
  /** The text of a Prometheus rule file (YAML). */
  rules?: string;
  /** A free one is picked when absent. */
  port?: number;
  /** Kept on stop when given; a temporary folder, removed on stop, when absent. */
  dataDir?: string;
  /** Where Prometheus's own log goes; kept in memory (for startup errors) when absent. */
  logFile?: string;
  /** How long to wait for `/-/ready`; default 30 s. */
  readyTimeoutMs?: number;
}

export interface PrometheusServer {
  url: string;
  stop(): Promise<void>;
}

/** The job every scrape config gets; a second path or scheme gets `changectl-2`, ... */
export const SCRAPE_JOB = 'changectl';

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no TCP port was assigned');
  return address.port;
}

function formatInterval(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/** Prometheus's config as JSON, which its YAML loader reads as it is. */
export function prometheusConfig(options: {
  targets: string[];
  scrapeIntervalMs: number;
  ruleFile?: string;
}): string {
  const jobs = new Map<string, { scheme: string; path: string; hosts: string[] }>();
  for (const target of options.targets) {
    const url = new URL(target);
    const scheme = url.protocol.replace(/:$/, '');
    const path = `${url.pathname}${url.search}` || '/metrics';
    const key = `${scheme} ${path}`;
    const job = jobs.get(key) ?? { scheme, path, hosts: [] };
    job.hosts.push(url.host);
    jobs.set(key, job);
  }
  const interval = formatInterval(options.scrapeIntervalMs);
  return JSON.stringify(
    {
      global: { scrape_interval: interval, evaluation_interval: interval },
      ...(options.ruleFile ? { rule_files: [options.ruleFile] } : {}),
      scrape_configs: [...jobs.values()].map((job, i) => ({
        job_name: i === 0 ? SCRAPE_JOB : `${SCRAPE_JOB}-${i + 1}`,
        scheme: job.scheme,
        metrics_path: job.path,
        scrape_interval: interval,
        scrape_timeout: interval,
        static_configs: [{ targets: job.hosts }],
      })),
    },
    null,
    2,
  );
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

async function waitReady(
  url: string,
  child: ChildProcess,
  timeoutMs: number,
  log: () => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `prometheus exited (${child.exitCode ?? child.signalCode}) before it was ready${log()}`,
      );
    }
    try {
      const response = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1_000) });
      await response.body?.cancel();
      if (response.ok) return;
    } catch {
      // Not listening yet.
    }
    await delay(100);
  }
  throw new Error(`prometheus at ${url} was not ready within ${timeoutMs} ms${log()}`);
}

async function startOnce(
  options: PrometheusServerOptions,
  port: number,
): Promise<PrometheusServer> {
  const configDir = await mkdtemp(join(tmpdir(), 'changectl-prometheus-'));
  const dataDir = options.dataDir ?? join(configDir, 'data');
  const ruleFile = options.rules === undefined ? undefined : join(configDir, 'rules.yml');
  if (ruleFile) await writeFile(ruleFile, options.rules ?? '');
  const configFile = join(configDir, 'prometheus.yml');
  await writeFile(
    configFile,
    prometheusConfig({
      targets: options.targets,
      scrapeIntervalMs: options.scrapeIntervalMs ?? 1_000,
      ...(ruleFile ? { ruleFile } : {}),
    }),
  );

  const logFd = options.logFile ? openSync(options.logFile, 'a') : undefined;
  const child = spawn(
    toolPath('prometheus'),
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${dataDir}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--storage.tsdb.retention.time=1d',
    ],
    { stdio: ['ignore', logFd ?? 'ignore', logFd ?? 'pipe'] },
  );
  if (logFd !== undefined) closeSync(logFd);
  const tail: string[] = [];
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    tail.push(...chunk.split('\n').filter(Boolean));
    tail.splice(0, Math.max(0, tail.length - 30));
  });
  // A process that exits without stop() (a failed test run) leaves neither server nor files.
  const killOnExit = (): void => {
    child.kill('SIGKILL');
    try {
      rmSync(configDir, { recursive: true, force: true, maxRetries: 3 });
    } catch {
      // Best effort: Prometheus may still be writing as it dies.
    }
  };
  process.once('exit', killOnExit);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      process.removeListener('exit', killOnExit);
      const gone = exited(child);
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await gone;
      clearTimeout(timer);
      child.stderr?.destroy();
      await rm(configDir, { recursive: true, force: true });
    })();
    return stopping;
  };

  const url = `http://127.0.0.1:${port}`;
  const log = (): string => (tail.length > 0 ? `:\n${tail.join('\n')}` : '');
  try {
    await waitReady(url, child, options.readyTimeoutMs ?? 30_000, log);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, stop };
}

/** Starts Prometheus and resolves once it answers `/-/ready`. */
export async function startPrometheus(options: PrometheusServerOptions): Promise<PrometheusServer> {
  if (options.port !== undefined) return startOnce(options, options.port);
  // A free port can be taken by someone else before Prometheus binds it; pick another then.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options, await freePort());
    } catch (error) {
      const inUse = error instanceof Error && error.message.includes('address already in use');
      if (!inUse || attempt >= 3) throw error;
    }
  }
}

/** Resolves once Prometheus has scraped every target successfully (`up == 1`). */
export async function waitForTargetsUp(
  url: string,
  count: number,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let seen = 'no answer';
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`${url}/api/v1/targets?state=active`, {
        signal: AbortSignal.timeout(1_000),
      });
      const body = (await response.json()) as {
        data?: { activeTargets?: { health?: string; scrapeUrl?: string; lastError?: string }[] };
      };
      const targets = body.data?.activeTargets ?? [];
      const up = targets.filter((t) => t.health === 'up').length;
      if (targets.length >= count && up >= count) return;
      seen = targets.map((t) => `${t.scrapeUrl}: ${t.health} ${t.lastError ?? ''}`).join(', ');
    } catch (error) {
      seen = error instanceof Error ? error.message : String(error);
    }
    await delay(100);
  }
  throw new Error(`prometheus at ${url}: targets not up within ${timeoutMs} ms (${seen})`);
}
