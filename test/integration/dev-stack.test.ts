import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from 'node:https';
import { AppsV1Api } from '@kubernetes/client-node';
import { Connection } from '@temporalio/client';
import { loadKubeConfig } from '../../activities/kubernetes/kubeconfig';
import {
  acquireDevStackLock,
  DevStackRunningError,
  startDevStack,
  type DevStack,
  type LockRecord,
} from '../../src/stack/devstack';
import { changeSearchAttributes } from '../../src/core/search-attributes';
import { provideDevKeys } from '../../src/stack/dev-keys';
import { loadPolicyFile } from '../../src/load/policy';
import { projectRoot } from '../../src/stack/tools';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
    await response.body?.cancel();
    return true;
  } catch {
    return false;
  }
}

/** Whether anything answers TLS at this https address (certificate unchecked). */
function httpsAnswers(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(url, { rejectUnauthorized: false, timeout: 1_000 }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

/** `export KEY=value` lines back into a record (values here need no shell quoting). */
function parseDevEnv(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n').filter(Boolean)) {
    const match = /^export ([A-Z_]+)=(.*)$/.exec(line);
    assert.ok(match, `an export line: ${line}`);
    env[match[1] as string] = match[2] as string;
  }
  return env;
}

describe('dev stack', () => {
  let stateDir: string;
  let stack: DevStack | undefined;
  let lock: LockRecord;
  const lines: string[] = [];

  before(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'changectl-dev-'));
    stack = await startDevStack({ stateDir, log: (line) => lines.push(line) });
    lock = JSON.parse(await readFile(join(stateDir, 'dev.pid'), 'utf8')) as LockRecord;
  });
  after(async () => {
    await stack?.stop();
    await rm(stateDir, { recursive: true, force: true });
  });

  it('writes dev.env with every setting, all on loopback', async () => {
    assert.ok(stack);
    const env = parseDevEnv(await readFile(join(stateDir, 'dev.env'), 'utf8'));
    assert.deepEqual(env, stack.env);
    assert.deepEqual(Object.keys(env).sort(), [
      'CHANGECTL_NOTIFY_FILE',
      'CHANGECTL_POLICY',
      'CHANGECTL_TASK_QUEUE',
      'KUBECONFIG',
      'PROMETHEUS_URL',
      'TEMPORAL_ADDRESS',
      'TEMPORAL_NAMESPACE',
      'TEMPORAL_UI_URL',
    ]);
    assert.match(env.TEMPORAL_ADDRESS ?? '', /^127\.0\.0\.1:\d+$/);
    assert.match(env.PROMETHEUS_URL ?? '', /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(env.TEMPORAL_UI_URL, stack.uiUrl);
    assert.match(stack.uiUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(env.KUBECONFIG, join(stateDir, 'kubeconfig'));
    assert.equal(env.CHANGECTL_NOTIFY_FILE, join(stateDir, 'notifications.jsonl'));
    assert.equal(env.CHANGECTL_POLICY, join(stateDir, 'keys', 'policy.yaml'));
    assert.equal(env.CHANGECTL_TASK_QUEUE, 'changectl');
    assert.ok(existsSync(join(stateDir, 'temporal.db')), 'Temporal keeps its state in the folder');
  });

  it("gives each person of the example policy a key and runs with the policy's copy holding them", async () => {
    assert.ok(stack);
    assert.deepEqual(Object.keys(stack.keys).sort(), ['alice', 'bob', 'carol', 'dave', 'erin']);
    assert.equal(stack.policyPath, join(stateDir, 'keys', 'policy.yaml'));
    const policy = await loadPolicyFile(stack.policyPath);
    for (const [person, key] of Object.entries(stack.keys)) {
      assert.equal(key.path, join(stateDir, 'keys', person));
      assert.match(await readFile(key.path, 'utf8'), /^-----BEGIN OPENSSH PRIVATE KEY-----/);
      assert.deepEqual(policy.spec.people[person]?.keys, [key.publicLine]);
      assert.match(key.publicLine, new RegExp(`^ssh-ed25519 \\S+ ${person}@changectl-dev$`));
    }
    assert.equal(policy.spec.identity.mode, 'signed');
    assert.ok(
      lines.some((l) => l.startsWith('keys for alice, bob, carol, dave, erin in ')),
      lines.join('\n'),
    );
  });

  it('runs Temporal with the search attributes and the Web UI', async () => {
    assert.ok(stack);
    const connection = await Connection.connect({ address: stack.env.TEMPORAL_ADDRESS });
    try {
      const { customAttributes } = await connection.operatorService.listSearchAttributes({
        namespace: 'default',
      });
      for (const key of changeSearchAttributes) {
        assert.ok(key.name in customAttributes, `${key.name} is registered`);
      }
      const { pollers } = await connection.workflowService.describeTaskQueue({
        namespace: 'default',
        taskQueue: { name: 'changectl', kind: 1 },
        taskQueueType: 2,
      });
      assert.ok(
        pollers?.some((p) => p.identity?.startsWith(`${lock.children.worker}@`)),
        'the worker polls for activities',
      );
    } finally {
      await connection.close();
    }
    const ui = await fetch(stack.uiUrl);
    await ui.body?.cancel();
    assert.equal(ui.status, 200);
  });

  it('serves the local cluster at the kubeconfig address, seeded', async () => {
    assert.ok(stack);
    const kubeConfig = loadKubeConfig({ path: stack.env.KUBECONFIG ?? '' });
    assert.match(kubeConfig.getCurrentCluster()?.server ?? '', /^https:\/\/127\.0\.0\.1:\d+$/);
    const apps = kubeConfig.makeApiClient(AppsV1Api);
    const list = await apps.listNamespacedDeployment({ namespace: 'production' });
    assert.deepEqual(list.items.map((d) => [d.metadata?.name, d.status?.readyReplicas]).sort(), [
      ['api-gateway', 3],
      ['auth-service', 2],
    ]);
  });

  it('has Prometheus scraping the simulator, which sees the seeded services', async () => {
    assert.ok(stack);
    const response = await fetch(`${stack.env.PROMETHEUS_URL}/api/v1/targets?state=active`);
    const body = (await response.json()) as {
      data: { activeTargets: { scrapeUrl: string; health: string }[] };
    };
    const targets = body.data.activeTargets.map((t) => [t.scrapeUrl, t.health]);
    assert.equal(targets.length, 1);
    assert.match(targets[0]?.[0] ?? '', /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    assert.equal(targets[0]?.[1], 'up');
    const metrics = await (await fetch(targets[0]?.[0] ?? '')).text();
    assert.match(
      metrics,
      /^http_requests_total\{service="api-gateway",namespace="production",code="200"\} \d+$/m,
    );
  });

  it('refuses a second start while one runs, naming the pid and the env file', async () => {
    await assert.rejects(startDevStack({ stateDir, log: () => undefined }), (err: unknown) => {
      assert.ok(err instanceof DevStackRunningError);
      assert.equal(err.pid, process.pid);
      assert.match(err.message, new RegExp(`already running \\(pid ${process.pid}\\)`));
      assert.ok(err.message.includes(join(stateDir, 'dev.env')));
      return true;
    });
    assert.ok(stack);
    assert.ok(await answers(stack.env.PROMETHEUS_URL ?? ''), 'the running stack is untouched');
  });

  it('stops every part and leaves no process, lock or env file behind', async () => {
    assert.ok(stack);
    const pids = Object.values(lock.children);
    assert.deepEqual(
      Object.keys(lock.children).sort(),
      [
        'etcd',
        'kube-apiserver',
        'kube-controller-manager',
        'kube-scheduler',
        'kwok',
        'temporal',
        'worker',
      ],
      'Temporal, the worker and the cluster are recorded in the lock',
    );
    const running = stack;
    const started = Date.now();
    await running.stop();
    const stopMs = Date.now() - started;
    for (const pid of pids) assert.equal(isAlive(pid), false, `process ${pid} is gone`);
    assert.equal(existsSync(join(stateDir, 'dev.pid')), false);
    assert.equal(existsSync(join(stateDir, 'dev.env')), false);
    assert.equal(await answers(running.env.PROMETHEUS_URL ?? ''), false);
    assert.equal(await answers(running.uiUrl), false);
    const kubeconfig = await readFile(running.env.KUBECONFIG ?? '', 'utf8');
    const server = /server: (\S+)/.exec(kubeconfig)?.[1] ?? '';
    assert.match(server, /^https:/);
    assert.equal(await httpsAnswers(`${server}/version`), false);
    assert.ok(stopMs < 30_000, `stopped in ${stopMs} ms`);
    stack = undefined;
  });
});

describe('dev stack keys', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'changectl-dev-keys-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('makes a key only for people without one, and reuses it the next time', async () => {
    const source = join(dir, 'policy.yaml');
    const example = await readFile(join(projectRoot, 'examples', 'policy.yaml'), 'utf8');
    const own =
      'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGK55G6I55dXEffuQ3fF/VpUWX2M8riVn0/k+BpaB/Wy bob@laptop';
    await writeFile(
      source,
      example.replace(
        'bob: { name: Bob Chen, teams: [sre] }',
        `bob: { name: Bob Chen, teams: [sre], keys: ['${own}'] }`,
      ),
    );
    const first = await provideDevKeys(source, join(dir, 'keys'));
    assert.deepEqual(first.ownKeys, ['bob']);
    assert.deepEqual(Object.keys(first.keys).sort(), ['alice', 'carol', 'dave', 'erin']);
    const copy = await readFile(first.policyPath, 'utf8');
    assert.match(copy, /# Who may act: keys are OpenSSH public key lines/, 'comments are kept');
    const policy = await loadPolicyFile(first.policyPath);
    assert.deepEqual(policy.spec.people.bob?.keys, [own]);
    assert.deepEqual(policy.spec.people.alice?.keys, [first.keys.alice?.publicLine]);

    const second = await provideDevKeys(source, join(dir, 'keys'));
    assert.deepEqual(second.keys, first.keys, 'the same keys, not new ones');
  });

  it('says which policy does not parse, before making any key', async () => {
    const source = join(dir, 'broken.yaml');
    await writeFile(source, 'apiVersion: changectl/v1\nkind: Policy\n');
    await assert.rejects(provideDevKeys(source, join(dir, 'none')), /broken\.yaml/);
    assert.equal(existsSync(join(dir, 'none')), false);
  });
});

describe('dev stack lock', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'changectl-dev-lock-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('takes over a stale lock and ends the processes the crashed stack left', async () => {
    const lockFile = join(dir, 'dev.pid');
    const envFile = join(dir, 'dev.env');
    const gone = spawn(process.execPath, ['-e', '']);
    await new Promise((resolve) => gone.once('exit', resolve));
    // A leftover "worker": its command line names worker/main.ts, as the real one does.
    const leftover = spawn(
      process.execPath,
      ['-e', 'setInterval(() => {}, 1000)', 'worker/main.ts'],
      {
        detached: true,
        stdio: 'ignore',
      },
    );
    const leftoverExited = new Promise((resolve) => leftover.once('exit', resolve));
    await writeFile(
      lockFile,
      JSON.stringify({
        pid: gone.pid,
        startedAt: new Date().toISOString(),
        envFile,
        children: { worker: leftover.pid },
      }),
    );
    const messages: string[] = [];
    const record = await acquireDevStackLock(lockFile, envFile, (line) => messages.push(line));
    assert.equal(record.pid, process.pid);
    assert.deepEqual((JSON.parse(await readFile(lockFile, 'utf8')) as LockRecord).pid, process.pid);
    await leftoverExited;
    assert.equal(isAlive(leftover.pid ?? -1), false);
    assert.match(messages.join('\n'), new RegExp(`stale lock from pid ${gone.pid}`));
    await rm(lockFile);
  });

  it('leaves alone a recorded pid that is now some other program', async () => {
    const lockFile = join(dir, 'dev.pid');
    const bystander = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], {
      detached: true,
      stdio: 'ignore',
    });
    try {
      await writeFile(
        lockFile,
        JSON.stringify({ pid: 2 ** 22 + 1, envFile: '', children: { worker: bystander.pid } }),
      );
      await acquireDevStackLock(lockFile, join(dir, 'dev.env'), () => undefined);
      assert.equal(isAlive(bystander.pid ?? -1), true);
    } finally {
      bystander.kill('SIGKILL');
      await rm(lockFile, { force: true });
    }
  });

  it('refuses while the holder lives', async () => {
    const lockFile = join(dir, 'dev.pid');
    await writeFile(lockFile, JSON.stringify({ pid: process.pid, envFile: '/x/dev.env' }));
    await assert.rejects(
      acquireDevStackLock(lockFile, join(dir, 'dev.env'), () => undefined),
      (err: unknown) => err instanceof DevStackRunningError && err.envFile === '/x/dev.env',
    );
    await rm(lockFile);
  });
});
