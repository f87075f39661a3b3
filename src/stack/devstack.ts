/**
 * The local dev stack behind `npm run dev`, the demo and the end-to-end tests: a Temporal dev
 * server (Web UI, search attributes, state kept in the state folder), the local Kubernetes
 * cluster (a real control plane, src/stack/cluster) or a cluster of the caller's own, the
 * application simulator's metrics, Prometheus scraping them, and a changectl worker, all on
 * 127.0.0.1 and free ports.
 *
 * Temporal and the worker run as child processes in their own process groups, so that the
 * terminal's Ctrl-C reaches only this process and the stack stops in order: the worker first
 * (it drains), then Prometheus, the simulator, the cluster and Temporal. Their pids are kept in the lock file,
 * so a start after a crash can end what the crashed stack left behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync, unlinkSync, type WriteStream } from 'node:fs';
import { mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import { freePort, startPrometheus, waitForTargetsUp, type PrometheusServer } from './prometheus';
import { startLocalCluster, type LocalCluster } from './cluster/index';
import { startSimulator, type Simulator } from './simulator';
import { startS3, type S3Server } from './s3';
import { startVelero, type VeleroServer } from './velero';
import { loadKubeConfig } from '../../activities/kubernetes/kubeconfig';
import { DEFAULT_TASK_QUEUE } from '../temporal/start';
import { provideDevKeys, type DevKey } from './dev-keys';
import { registerSearchAttributes } from '../temporal/search-attributes';
import { projectRoot, toolPath } from './tools';

export interface DevStackOptions {
  /** The project checkout: where worker/main.ts and examples/ are. Default: this checkout. */
  root?: string;
  /** Where state, logs, the lock file and dev.env go. Default: `<root>/.changectl`. */
  stateDir?: string;
  /** Stop the stack and exit on SIGINT/SIGTERM (a second signal kills at once). */
  exitOnSignal?: boolean;
  /** Progress lines; the worker's output too when `echoWorker` is set. */
  log?: (line: string) => void;
  echoWorker?: boolean;
  /** The Web UI's port; a free one when absent. */
  uiPort?: number;
  /**
   * Default: CHANGECTL_POLICY, else `<root>/examples/policy.yaml`. People without keys get one
   * in `<stateDir>/keys/`, and the stack runs with a copy of the policy that lists them.
   */
  policyPath?: string;
  taskQueue?: string;
  /** How long to wait for each part to become ready. Default 120 s. */
  readyTimeoutMs?: number;
  /** A cluster of your own (kind, minikube, a real one): no local cluster is started. */
  kubeconfigPath?: string;
}

export interface DevStack {
  /** What dev.env exports: TEMPORAL_ADDRESS, KUBECONFIG, PROMETHEUS_URL, TEMPORAL_UI_URL, ... */
  env: Record<string, string>;
  uiUrl: string;
  /** The dev.env file (lines `export KEY=value`). */
  envFile: string;
  stateDir: string;
  /** The policy the worker and the CLI read: the given one, with the generated keys. */
  policyPath: string;
  /** The key of each person the stack made one for: `CHANGECTL_KEY=<path>` acts as them. */
  keys: Record<string, DevKey>;
  /** People whose own keys the policy lists: the stack cannot act as them. */
  ownKeys: string[];
  /**
   * Copies the given policy again (after it was edited), with the same keys; each change reads
   * the policy when it starts.
   */
  refreshPolicy(): Promise<void>;
  /** Stops everything, in order, and removes the lock and dev.env. Idempotent. */
  stop(): Promise<void>;
}

export class DevStackRunningError extends Error {
  constructor(
    readonly pid: number,
    readonly envFile: string,
  ) {
    super(
      `a changectl dev stack is already running (pid ${pid}); its settings are in ${envFile} ` +
        `(source it to use that stack), or stop it with Ctrl-C in its terminal or 'kill ${pid}'`,
    );
    this.name = 'DevStackRunningError';
  }
}

const WORKER_STOP_MS = 35_000;
const REPEATED_SIGNAL_MS = 1_000;
const TEMPORAL_STOP_MS = 10_000;

// ---------------------------------------------------------------- lock file

export interface LockRecord {
  pid: number;
  startedAt: string;
  envFile: string;
  /** Child process groups this stack started: name → pid. */
  children: Record<string, number>;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether pid is still the process we started (pids are reused). */
function isStillOurs(pid: number, name: string): boolean {
  if (!isAlive(pid)) return false;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (name === 'temporal') return cmdline.includes('start-dev');
    if (name === 'worker') return cmdline.includes('worker/main.ts');
    // The local cluster's servers: etcd, kube-apiserver, ..., kwok.
    return cmdline.split('\0')[0]?.endsWith(name) ?? false;
  } catch {
    return false;
  }
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

/**
 * Takes the stack's lock file: refused while the process that holds it lives; taken over (after
 * ending the children it recorded) when that process is gone.
 */
export async function acquireDevStackLock(
  lockFile: string,
  envFile: string,
  log: (line: string) => void,
): Promise<LockRecord> {
  const record: LockRecord = {
    pid: process.pid,
    startedAt: new Date().toISOString(),
    envFile,
    children: {},
  };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(lockFile, 'wx');
      await handle.writeFile(JSON.stringify(record));
      await handle.close();
      return record;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let previous: Partial<LockRecord> = {};
    try {
      previous = JSON.parse(await readFile(lockFile, 'utf8')) as Partial<LockRecord>;
    } catch {
      // Unreadable or half-written: treated as stale below unless its owner is alive.
    }
    if (typeof previous.pid === 'number' && isAlive(previous.pid)) {
      throw new DevStackRunningError(previous.pid, previous.envFile ?? envFile);
    }
    const leftovers = Object.entries(previous.children ?? {}).filter(([name, pid]) =>
      isStillOurs(pid, name),
    );
    log(
      `taking over a stale lock from pid ${previous.pid ?? '?'}` +
        (leftovers.length
          ? `; stopping what it left running: ${leftovers.map(([n, p]) => `${n} (${p})`).join(', ')}`
          : ''),
    );
    for (const [, pid] of leftovers) killGroup(pid, 'SIGKILL');
    await rm(lockFile, { force: true });
  }
  throw new Error(`could not take the lock ${lockFile}`);
}

// ---------------------------------------------------------------- child processes

interface Child {
  name: string;
  process: ChildProcess;
  exited: Promise<void>;
  /** The last lines it wrote, for error messages. */
  tail: string[];
}

function startChild(
  name: string,
  command: string,
  args: string[],
  options: {
    cwd: string;
    env: NodeJS.ProcessEnv;
    logFile: string;
    onLine?: (line: string) => void;
  },
): Child {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const tail: string[] = [];
  const logStream: WriteStream = createWriteStream(options.logFile, { flags: 'a' });
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream }).on('line', (line) => {
      logStream.write(`${line}\n`);
      tail.push(line);
      if (tail.length > 40) tail.shift();
      options.onLine?.(line);
    });
  }
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', (err) => {
      tail.push(`${name} could not be started: ${err.message}`);
      resolve();
    });
  }).then(() => new Promise<void>((resolve) => logStream.end(() => resolve())));
  return { name, process: child, exited, tail };
}

function hasExited(child: Child): boolean {
  return child.process.exitCode !== null || child.process.signalCode !== null || !child.process.pid;
}

function exitDescription(child: Child): string {
  const { exitCode, signalCode } = child.process;
  const how = signalCode ? `signal ${signalCode}` : `code ${exitCode ?? '?'}`;
  const tail = child.tail.slice(-15).join('\n');
  return `${child.name} exited (${how})${tail ? `:\n${tail}` : ''}`;
}

async function stopChild(child: Child, graceMs: number): Promise<void> {
  if (hasExited(child) || child.process.pid === undefined) {
    await child.exited;
    return;
  }
  const pid = child.process.pid;
  killGroup(pid, 'SIGTERM');
  const timer = setTimeout(() => killGroup(pid, 'SIGKILL'), graceMs);
  await child.exited;
  clearTimeout(timer);
  // Anything the child itself started goes with it.
  killGroup(pid, 'SIGKILL');
}

// ---------------------------------------------------------------- readiness

async function until<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
  failed?: () => string | undefined,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  for (;;) {
    const failure = failed?.();
    if (failure) throw new Error(`${what}: ${failure}`);
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err instanceof Error ? (err.message.split('\n')[0] ?? err.message) : String(err);
    }
    if (Date.now() > deadline) {
      throw new Error(`${what}: not ready within ${timeoutMs} ms (${last})`);
    }
    await delay(200);
  }
}

/** Temporal answers, and changectl's search attributes are registered on the namespace. */
async function temporalReady(address: string, namespace: string): Promise<Connection> {
  const connection = await Connection.connect({ address, connectTimeout: 1_000 });
  try {
    await registerSearchAttributes(connection, namespace);
    return connection;
  } catch (err) {
    await connection.close();
    throw err;
  }
}

// Values of temporal.api.enums.v1 (TaskQueueKind, TaskQueueType); the proto package is not a
// direct dependency.
const TASK_QUEUE_KIND_NORMAL = 1;
const TASK_QUEUE_TYPE_WORKFLOW = 1;
const TASK_QUEUE_TYPE_ACTIVITY = 2;

/** Whether the worker with this pid polls both the workflow and the activity task queue. */
async function workerPolling(
  connection: Connection,
  namespace: string,
  taskQueue: string,
  pid: number,
): Promise<boolean> {
  for (const taskQueueType of [TASK_QUEUE_TYPE_WORKFLOW, TASK_QUEUE_TYPE_ACTIVITY]) {
    const { pollers } = await connection.workflowService.describeTaskQueue({
      namespace,
      taskQueue: { name: taskQueue, kind: TASK_QUEUE_KIND_NORMAL },
      taskQueueType,
    });
    // The default worker identity is `<pid>@<host>`; a crashed stack's poller is still listed.
    if (!pollers?.some((p) => p.identity?.startsWith(`${pid}@`))) return false;
  }
  return true;
}

// ---------------------------------------------------------------- dev.env

function shellValue(value: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]*$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

export function devEnvText(env: Record<string, string>): string {
  return Object.entries(env)
    .map(([key, value]) => `export ${key}=${shellValue(value)}\n`)
    .join('');
}

/** The parent's environment without what would point the dev worker somewhere else. */
function workerBaseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(TEMPORAL_|PROMETHEUS_|CHANGECTL_|KUBECONFIG$|NODE_ENV$)/.test(key)) continue;
    env[key] = value;
  }
  if (process.env.CHANGECTL_TOOLS_DIR) env.CHANGECTL_TOOLS_DIR = process.env.CHANGECTL_TOOLS_DIR;
  // Opt-in: a developer trying their own webhook against the dev stack.
  if (process.env.CHANGECTL_NOTIFY_WEBHOOK_URL) {
    env.CHANGECTL_NOTIFY_WEBHOOK_URL = process.env.CHANGECTL_NOTIFY_WEBHOOK_URL;
  }
  return env;
}

// ---------------------------------------------------------------- the stack

export async function startDevStack(options: DevStackOptions = {}): Promise<DevStack> {
  const root = resolve(options.root ?? projectRoot);
  const stateDir = resolve(options.stateDir ?? join(root, '.changectl'));
  const log = options.log ?? ((line: string) => console.log(line));
  const readyTimeoutMs = options.readyTimeoutMs ?? 120_000;
  const namespace = 'default';
  const taskQueue = options.taskQueue ?? DEFAULT_TASK_QUEUE;
  const sourcePolicyPath = resolve(
    options.policyPath ?? process.env.CHANGECTL_POLICY ?? join(root, 'examples', 'policy.yaml'),
  );
  if (!existsSync(sourcePolicyPath)) throw new Error(`policy file not found: ${sourcePolicyPath}`);
  const temporalBinary = toolPath('temporal');

  await mkdir(stateDir, { recursive: true });
  const lockFile = join(stateDir, 'dev.pid');
  const envFile = join(stateDir, 'dev.env');
  const lock = await acquireDevStackLock(lockFile, envFile, log);
  const keysDir = join(stateDir, 'keys');

  const children: Child[] = [];
  let cluster: LocalCluster | undefined;
  let simulator: Simulator | undefined;
  let s3: S3Server | undefined;
  let velero: VeleroServer | undefined;
  let prometheus: PrometheusServer | undefined;
  let connection: Connection | undefined;
  let signalCount = 0;
  let firstSignalAt: number | undefined;

  const killEverything = (): void => {
    for (const child of children) {
      if (child.process.pid !== undefined) killGroup(child.process.pid, 'SIGKILL');
    }
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    // One Ctrl-C can arrive several times within milliseconds: the terminal signals the whole
    // process group and npm and tsx each relay it again. Only a later one means "now".
    if (firstSignalAt !== undefined && Date.now() - firstSignalAt < REPEATED_SIGNAL_MS) return;
    firstSignalAt ??= Date.now();
    signalCount += 1;
    if (signalCount > 1) {
      log(`${signal} again: killing the dev stack at once`);
      killEverything();
      if (readLockPid(lockFile) === process.pid) {
        removeQuietly(envFile);
        removeQuietly(lockFile);
      }
      process.exit(130);
    }
    log(`${signal}: stopping the dev stack (again to kill it at once)`);
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  };
  process.once('exit', killEverything);
  if (options.exitOnSignal) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }

  const recordChild = async (child: Child): Promise<void> => {
    children.push(child);
    if (child.process.pid !== undefined) lock.children[child.name] = child.process.pid;
    await writeFile(lockFile, JSON.stringify(lock));
  };

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      const worker = children.find((c) => c.name === 'worker');
      if (worker) await stopChild(worker, WORKER_STOP_MS);
      await connection?.close().catch(() => undefined);
      await prometheus?.stop();
      await simulator?.stop();
      await velero?.stop();
      await s3?.stop();
      await cluster?.stop();
      const temporal = children.find((c) => c.name === 'temporal');
      if (temporal) await stopChild(temporal, TEMPORAL_STOP_MS);
      process.removeListener('exit', killEverything);
      if (options.exitOnSignal) {
        process.removeListener('SIGINT', onSignal);
        process.removeListener('SIGTERM', onSignal);
      }
      if (readLockPid(lockFile) === process.pid) {
        await rm(envFile, { force: true });
        await rm(lockFile, { force: true });
      }
    })();
    return stopping;
  };

  try {
    // Keys for the policy's people, before anything starts: a policy that does not parse stops here.
    const devKeys = await provideDevKeys(sourcePolicyPath, keysDir);
    const policyPath = devKeys.policyPath;
    const generated = Object.keys(devKeys.keys);
    if (generated.length > 0) {
      log(`keys for ${generated.join(', ')} in ${keysDir}; policy with their keys: ${policyPath}`);
    }

    // Temporal
    const port = await freePort();
    const uiPort = options.uiPort ?? (await freePort());
    const address = `127.0.0.1:${port}`;
    const uiUrl = `http://127.0.0.1:${uiPort}`;
    log(`starting Temporal on ${address} (Web UI ${uiUrl})`);
    const temporal = startChild(
      'temporal',
      temporalBinary,
      [
        'server',
        'start-dev',
        '--ip',
        '127.0.0.1',
        '--port',
        String(port),
        '--ui-port',
        String(uiPort),
        '--db-filename',
        join(stateDir, 'temporal.db'),
        '--log-level',
        'warn',
      ],
      { cwd: stateDir, env: process.env, logFile: join(stateDir, 'temporal.log') },
    );
    await recordChild(temporal);
    connection = await until(
      'Temporal',
      readyTimeoutMs,
      () => temporalReady(address, namespace),
      () => (hasExited(temporal) ? exitDescription(temporal) : undefined),
    );
    await until('the Temporal Web UI', readyTimeoutMs, async () => {
      const response = await fetch(uiUrl, { signal: AbortSignal.timeout(2_000) });
      await response.body?.cancel();
      return response.ok ? true : undefined;
    });

    // Kubernetes: the local control plane, unless the caller brings a cluster.
    let kubeconfigPath = options.kubeconfigPath ? resolve(options.kubeconfigPath) : undefined;
    if (!kubeconfigPath) {
      const clusterStarted = Date.now();
      cluster = await startLocalCluster({
        kubeconfigPath: join(stateDir, 'kubeconfig'),
        readyTimeoutMs,
      });
      lock.children = { ...lock.children, ...cluster.processGroups() };
      await writeFile(lockFile, JSON.stringify(lock));
      kubeconfigPath = cluster.kubeconfigPath;
      log(
        `Kubernetes control plane on ${cluster.server} (ready in ${Date.now() - clusterStarted} ms)`,
      );
      // Velero, backing up to a local S3 server.
      s3 = await startS3({ logFile: join(stateDir, 's3.log'), readyTimeoutMs });
      velero = await startVelero({
        kubeconfigPath: cluster.kubeconfigPath,
        s3,
        logFile: join(stateDir, 'velero.log'),
        readyTimeoutMs,
      });
      log(`Velero backing up to ${s3.endpoint}/${s3.bucket}`);
    } else {
      log(`using the cluster of ${kubeconfigPath}`);
    }
    simulator = await startSimulator(loadKubeConfig({ path: kubeconfigPath }));
    log(`application simulator metrics on ${simulator.metricsUrl}`);

    // Prometheus
    prometheus = await startPrometheus({
      targets: [simulator.metricsUrl],
      dataDir: join(stateDir, 'prometheus'),
      logFile: join(stateDir, 'prometheus.log'),
    });
    await waitForTargetsUp(prometheus.url, 1, readyTimeoutMs);
    log(`Prometheus on ${prometheus.url}, scraping the simulator`);

    const env: Record<string, string> = {
      TEMPORAL_ADDRESS: address,
      TEMPORAL_NAMESPACE: namespace,
      TEMPORAL_UI_URL: uiUrl,
      KUBECONFIG: kubeconfigPath,
      PROMETHEUS_URL: prometheus.url,
      CHANGECTL_POLICY: policyPath,
      CHANGECTL_TASK_QUEUE: taskQueue,
      CHANGECTL_NOTIFY_FILE: join(stateDir, 'notifications.jsonl'),
    };

    // Worker: run as node with tsx's loader (not the tsx CLI) so that its pid is the worker.
    const temporalProfile = join(stateDir, 'temporal.toml');
    await writeFile(
      temporalProfile,
      `[profile.default]\naddress = "${address}"\nnamespace = "${namespace}"\n`,
    );
    const workerEntry = join(root, 'worker', 'main.ts');
    const worker = startChild('worker', process.execPath, ['--import', 'tsx', workerEntry], {
      cwd: root,
      env: {
        ...workerBaseEnv(),
        ...env,
        // Only the dev server's profile: a user's own temporal.toml (TLS, API key) must not apply.
        TEMPORAL_CONFIG_FILE: temporalProfile,
        CHANGECTL_NOTIFY_LOG: 'true',
        NODE_ENV: 'development',
      },
      logFile: join(stateDir, 'worker.log'),
      ...(options.echoWorker ? { onLine: (line: string) => log(`worker | ${line}`) } : {}),
    });
    await recordChild(worker);
    const workerPid = worker.process.pid ?? -1;
    const temporalConnection = connection;
    await until(
      'the worker',
      readyTimeoutMs,
      async () =>
        (await workerPolling(temporalConnection, namespace, taskQueue, workerPid))
          ? true
          : undefined,
      () => (hasExited(worker) ? exitDescription(worker) : undefined),
    );
    log(`worker polling task queue ${taskQueue}`);

    await writeFile(envFile, devEnvText(env));
    const refreshPolicy = async (): Promise<void> => {
      await provideDevKeys(sourcePolicyPath, keysDir);
    };
    return {
      env,
      uiUrl,
      envFile,
      stateDir,
      policyPath,
      keys: devKeys.keys,
      ownKeys: devKeys.ownKeys,
      refreshPolicy,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

function readLockPid(lockFile: string): number | undefined {
  try {
    const { pid } = JSON.parse(readFileSync(lockFile, 'utf8')) as Partial<LockRecord>;
    return typeof pid === 'number' ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Synchronous, for the moment right before process.exit. */
function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Nothing to remove.
  }
}

/** A path relative to the working directory when that is shorter, for printing. */
/**
 * The `--ui-port` flag of `npm run dev` and `npm run demo`: undefined when absent, a message
 * naming the flag when it is not a port number.
 */
export function parseUiPort(raw: string | undefined): { port?: number; error?: string } {
  if (raw === undefined) return {};
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    return { error: `--ui-port expects a port number, got ${JSON.stringify(raw)}` };
  }
  return { port };
}

export function displayPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') && rel.length < path.length ? rel : path;
}
