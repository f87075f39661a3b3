// `npm run demo`: starts the local stack and tells changectl's story through the real CLI. A
// normal change waits for approvals (a self-approval is refused) and for a window that opens
// about a minute later, then is backed up, rolled out, watched and completed; a second change to
// an erroring image is rolled back automatically; both change logs are printed. `--exit` stops
// the stack afterwards (exit 0 only when the story went as told); otherwise it stays up for the UI.
import { spawn } from 'node:child_process';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { stringify as toYaml } from 'yaml';
import { loadChangeRequestFile } from '../src/load/change';
import { loadPolicyFile } from '../src/load/policy';
import { changeWorkflowId } from '../src/core/change/request';
import { workflowUiUrl } from '../src/cli/links';
import {
  DevStackRunningError,
  displayPath,
  parseUiPort,
  startDevStack,
  type DevStack,
} from '../src/stack/devstack';
import type { ChangeState, ChangeStatus } from '../src/core/lifecycle/status';
import { ensureProvisioned, ProvisionError } from '../src/stack/provision';
import { projectRoot } from '../src/stack/tools';
import { statusQuery } from '../workflows/messages';

const usage = 'usage: npm run demo -- [--exit] [--state-dir DIR] [--ui-port N] [--kubeconfig FILE]';

const SERVICE = 'api-gateway';
const REQUESTER = 'alice';
/** Both in the sre team, which the example policy requires for api-gateway. */
const APPROVERS = [
  { as: 'bob', comment: 'rollout plan and backup look right' },
  { as: 'carol', comment: 'ok for tonight' },
] as const;
/** How far ahead the demo's maintenance window opens, at the least (cron has minute steps). */
const WINDOW_LEAD_MS = 35_000;
const CLI_TIMEOUT_MS = 10 * 60_000;

const color = Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;
const paint = (code: string) => (text: string) =>
  color ? `\u001b[${code}m${text}\u001b[0m` : text;
const bold = paint('1');
const dim = paint('2');
const green = paint('32');
const red = paint('31');
const cyan = paint('36');

class StoryError extends Error {}

// ---------------------------------------------------------------- policy and requests

/**
 * The example policy with one production window, opening at the first whole minute at least
 * WINDOW_LEAD_MS from now (UTC) and lasting 30 minutes, in place of its nightly windows and
 * freezes, so the story runs whatever the time of day. Read fresh by each change at its start.
 */
async function writeDemoPolicy(path: string, now: Date): Promise<Date> {
  const policy = await loadPolicyFile(join(projectRoot, 'examples', 'policy.yaml'));
  const opens = new Date(Math.ceil((now.getTime() + WINDOW_LEAD_MS) / 60_000) * 60_000);
  policy.spec.windows = [
    {
      name: 'demo-maintenance',
      kind: 'allow',
      schedule: `${opens.getUTCMinutes()} ${opens.getUTCHours()} * * *`,
      duration: '30m',
      timeZone: 'UTC',
      environments: ['production'],
    },
  ];
  policy.spec.freezes = [];
  // A Friday-afternoon demo would be high risk, which asks for a 15-minute watch.
  policy.spec.risk.rules = policy.spec.risk.rules.filter((rule) => !rule.when.fridayAfternoon);
  // Written whole, then renamed: a change that starts meanwhile reads the old or the new file.
  await writeFile(`${path}.partial`, toYaml(policy));
  await rename(`${path}.partial`, path);
  return opens;
}

/** examples/normal-rolling.yaml with this run's id and image, and a watch of seconds. */
async function writeRequest(
  dir: string,
  id: string,
  tag: string,
  watch: string,
  title: string,
): Promise<string> {
  const request = await loadChangeRequestFile(join(projectRoot, 'examples', 'normal-rolling.yaml'));
  request.metadata = { ...request.metadata, id, title, requestedBy: REQUESTER };
  delete request.spec.window;
  request.spec.rollout = {
    ...request.spec.rollout,
    image: `registry.example.com/${SERVICE}:${tag}`,
    timeout: '2m',
  };
  request.spec.verification = {
    ...request.spec.verification,
    watch,
    interval: '5s',
    failureLimit: 2,
    // Rates over 30 s rather than a minute, so a short watch sees the new pods.
    metrics: request.spec.verification.metrics.map((m) => ({
      ...m,
      query: m.query.replace(/\[1m\]/g, '[30s]'),
    })),
  };
  const path = join(dir, `${id}.yaml`);
  await writeFile(path, toYaml(request));
  return path;
}

// ---------------------------------------------------------------- the CLI

/** The environment a user of the stack has: its settings and none of the caller's. */
function cliEnv(stackEnv: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(TEMPORAL_|CHANGECTL_|KUBECONFIG$|PROMETHEUS_)/.test(key)) continue;
    env[key] = value;
  }
  return { ...env, ...stackEnv };
}

function quote(arg: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/**
 * Prints `$ changectl ...` and runs the real binary as a user would. On a terminal it shares the
 * terminal (colours, watch's spinner); otherwise its output is passed through line by line.
 */
async function changectl(env: NodeJS.ProcessEnv, args: string[]): Promise<number> {
  console.log(`\n${cyan('$')} ${bold(['changectl', ...args].map(quote).join(' '))}`);
  const interactive = Boolean(process.stdout.isTTY);
  const child = spawn(process.execPath, [join(projectRoot, 'bin', 'changectl.js'), ...args], {
    cwd: projectRoot,
    env,
    stdio: interactive ? 'inherit' : ['ignore', 'pipe', 'pipe'],
  });
  for (const stream of [child.stdout, child.stderr]) {
    if (stream) createInterface({ input: stream }).on('line', (line) => console.log(line));
  }
  const timer = setTimeout(() => child.kill('SIGTERM'), CLI_TIMEOUT_MS);
  try {
    return await new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code, signal) => resolve(signal ? 128 : (code ?? 1)));
    });
  } finally {
    clearTimeout(timer);
  }
}

async function expectExit(
  env: NodeJS.ProcessEnv,
  args: string[],
  expected: number,
  meaning: string,
): Promise<void> {
  const code = await changectl(env, args);
  if (code !== expected) {
    throw new StoryError(`changectl ${args[0]} exited ${code}; the story expected ${expected}`);
  }
  console.log(green(`✓ ${meaning}`));
}

// ---------------------------------------------------------------- the story

function chapter(n: number, title: string): void {
  console.log(`\n${bold(`── ${n}. ${title} `.padEnd(72, '─'))}`);
}

function narrate(text: string): void {
  console.log(dim(text));
}

/** Waits (quietly, through the Temporal client) until the change reaches one of the states. */
async function stateReached(
  client: Client,
  id: string,
  states: ChangeState[],
  timeoutMs = 60_000,
): Promise<ChangeStatus> {
  const handle = client.workflow.getHandle(changeWorkflowId(id));
  const deadline = Date.now() + timeoutMs;
  let last: ChangeStatus | undefined;
  for (;;) {
    last = await handle.query(statusQuery).catch(() => last);
    if (last && states.includes(last.state)) return last;
    if (Date.now() > deadline) {
      throw new StoryError(
        `${id} stayed ${last?.state ?? 'unanswered'}; expected ${states.join(' or ')}`,
      );
    }
    await sleep(300);
  }
}

async function finalState(client: Client, id: string): Promise<ChangeState | undefined> {
  const result = (await client.workflow.getHandle(changeWorkflowId(id)).result()) as {
    changeLog?: { state?: ChangeState };
  };
  return result.changeLog?.state;
}

async function tellStory(stack: DevStack, client: Client, policyPath: string): Promise<void> {
  const env = cliEnv(stack.env);
  const base = Math.floor(Date.now() / 1000);
  const first = `CHG-${base}`;
  const second = `CHG-${base + 1}`;
  const requests = join(stack.stateDir, 'requests');
  await mkdir(requests, { recursive: true });

  chapter(1, 'A normal change to production is submitted');
  const opens = await writeDemoPolicy(policyPath, new Date());
  narrate(
    `Alice wants api-gateway 2.5.0 in production. The policy (${displayPath(policyPath)}) allows\n` +
      `production changes only inside the window 'demo-maintenance', which opens at\n` +
      `${opens.toISOString()} (in about ${Math.round((opens.getTime() - Date.now()) / 1000)} s), and asks for two approvers, one from sre.`,
  );
  await expectExit(
    env,
    ['windows', '--env', 'production', '--service', SERVICE, '--count', '1'],
    0,
    'the next window',
  );
  const firstFile = await writeRequest(
    requests,
    first,
    '2.5.0',
    '30s',
    'Upgrade api-gateway to v2.5.0',
  );
  await expectExit(
    env,
    ['submit', displayPath(firstFile), '--as', REQUESTER],
    0,
    `${first} submitted`,
  );
  await stateReached(client, first, ['awaiting-approval']);

  chapter(2, 'Alice tries to approve her own change');
  await expectExit(
    env,
    ['approve', first, '--as', REQUESTER],
    3,
    'self-approval refused by policy (exit 3)',
  );

  chapter(3, 'Two approvals arrive');
  for (const approver of APPROVERS) {
    await expectExit(
      env,
      ['approve', first, '--as', approver.as, '--comment', approver.comment],
      0,
      `approved by ${approver.as}`,
    );
  }

  chapter(4, 'Watch: the window opens, backup, rollout, verification');
  narrate('Ctrl-C leaves the watch; the change goes on in Temporal either way.');
  await expectExit(env, ['watch', first], 0, `${first} completed`);
  const firstState = await finalState(client, first);
  if (firstState !== 'completed') throw new StoryError(`${first} ended ${firstState}`);

  chapter(5, 'A change to an image that answers ~8% of requests with 5xx');
  narrate(
    'Same service, now 2.5.1-erroring. Prometheus sees the error rate pass 1% during the watch,\n' +
      'and changectl rolls the Deployment back to 2.5.0 without anyone being paged first.',
  );
  const secondFile = await writeRequest(
    requests,
    second,
    '2.5.1-erroring',
    '1m',
    'Upgrade api-gateway to v2.5.1',
  );
  await expectExit(
    env,
    ['submit', displayPath(secondFile), '--as', REQUESTER],
    0,
    `${second} submitted`,
  );
  await stateReached(client, second, ['awaiting-approval']);
  for (const approver of APPROVERS) {
    await expectExit(
      env,
      ['approve', second, '--as', approver.as],
      0,
      `approved by ${approver.as}`,
    );
  }
  narrate('watch exits 1 when a change ends unsuccessfully: here that is the expected ending.');
  await expectExit(env, ['watch', second], 1, `${second} rolled back automatically (exit 1)`);
  const secondState = await finalState(client, second);
  if (secondState !== 'rolled-back') throw new StoryError(`${second} ended ${secondState}`);

  chapter(6, 'The change logs');
  await expectExit(env, ['export', first, '--format', 'md'], 0, `change log of ${first}`);
  await expectExit(env, ['export', second, '--format', 'md'], 0, `change log of ${second}`);

  chapter(7, 'Someone edits production by hand');
  narrate(
    'An on-call engineer sets the image with kubectl, outside any change. Every object a change\n' +
      'writes carries its change id, run id and the hash of the spec it left, so drift sees it.',
  );
  const hotfix = `registry.example.com/${SERVICE}:2.5.0-hotfix`;
  const kubectlArgs = [
    'set',
    'image',
    `deployment/${SERVICE}`,
    `${SERVICE}=${hotfix}`,
    '-n',
    'production',
  ];
  console.log(`\n${cyan('$')} ${bold(['kubectl', ...kubectlArgs].join(' '))}`);
  const edited = await new Promise<number>((done) => {
    const child = spawn('kubectl', kubectlArgs, { env, stdio: ['ignore', 'inherit', 'inherit'] });
    child.once('error', () => done(-1));
    child.once('close', (code) => done(code ?? 1));
  });
  if (edited === -1) {
    // No kubectl on this machine: the same write through the API, as kubectl edit makes it.
    const k8s = await import('@kubernetes/client-node');
    const kubeConfig = new k8s.KubeConfig();
    kubeConfig.loadFromFile(stack.env.KUBECONFIG ?? '');
    await kubeConfig.makeApiClient(k8s.AppsV1Api).patchNamespacedDeployment(
      {
        namespace: 'production',
        name: SERVICE,
        fieldManager: 'kubectl-edit',
        body: { spec: { template: { spec: { containers: [{ name: SERVICE, image: hotfix }] } } } },
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch),
    );
  } else if (edited !== 0) {
    throw new StoryError(`kubectl set image exited ${edited}`);
  }
  narrate('drift exits 1 when an object no longer matches its last change: the expected ending.');
  await expectExit(
    env,
    ['drift', '--env', 'production', '--service', SERVICE],
    1,
    'drift found, naming who changed it (exit 1)',
  );

  chapter(8, 'How well do we change?');
  await expectExit(
    env,
    ['report', '--env', 'production', '--since', '1d'],
    0,
    'the DORA report of the changes above',
  );

  const namespace = stack.env.TEMPORAL_NAMESPACE ?? 'default';
  console.log(`\n${bold('Temporal Web UI')}: ${stack.uiUrl}`);
  for (const id of [first, second]) {
    console.log(`  ${id}: ${workflowUiUrl(stack.env, namespace, changeWorkflowId(id)) ?? ''}`);
  }
  console.log(green(`\n✓ demo complete: ${first} completed, ${second} rolled back automatically`));
}

// ---------------------------------------------------------------- main

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      exit: { type: 'boolean' },
      'state-dir': { type: 'string' },
      'ui-port': { type: 'string' },
      kubeconfig: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(usage);
    return 0;
  }
  const { port: uiPort, error } = parseUiPort(values['ui-port']);
  if (error) {
    console.error(error);
    return 2;
  }
  // Its own state, apart from `npm run dev`'s .changectl/, so both can run at once.
  const stateDir = resolve(values['state-dir'] ?? join(projectRoot, '.changectl', 'demo'));
  await mkdir(stateDir, { recursive: true });
  const policyPath = join(stateDir, 'policy.yaml');

  // A cluster of your own needs no local control plane.
  const kubeconfigPath = values.kubeconfig ? resolve(values.kubeconfig) : undefined;
  try {
    ensureProvisioned({ cluster: kubeconfigPath === undefined });
  } catch (err) {
    if (err instanceof ProvisionError) throw new StoryError(err.message);
    throw err;
  }
  await writeDemoPolicy(policyPath, new Date());
  console.log(`${bold('starting the local stack')} (state in ${displayPath(stateDir)})`);
  let stack: DevStack;
  try {
    stack = await startDevStack({
      stateDir,
      policyPath,
      exitOnSignal: true,
      log: (line) => console.log(dim(`  ${line}`)),
      ...(uiPort !== undefined ? { uiPort } : {}),
      ...(kubeconfigPath ? { kubeconfigPath } : {}),
    });
  } catch (err) {
    if (err instanceof DevStackRunningError) {
      console.error(`the demo's stack is already running: ${err.message}`);
      return 1;
    }
    throw err;
  }

  let connection: Connection | undefined;
  let ok = false;
  try {
    connection = await Connection.connect({ address: stack.env.TEMPORAL_ADDRESS ?? '' });
    const client = new Client({ connection, namespace: stack.env.TEMPORAL_NAMESPACE ?? 'default' });
    await tellStory(stack, client, policyPath);
    ok = true;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    console.error(red(`\n✗ the story went off script: ${message}`));
    console.error(`logs: ${displayPath(stack.stateDir)}/{temporal,worker,prometheus}.log`);
  } finally {
    await connection?.close();
    if (values.exit) await stack.stop();
  }
  if (values.exit) return ok ? 0 : 1;

  console.log(`\nThe stack stays up for exploring: Temporal Web UI ${stack.uiUrl}`);
  console.log(`in another shell: source ${displayPath(stack.envFile)}  (then npx changectl list)`);
  console.log('Ctrl-C stops everything');
  return new Promise<number>(() => undefined);
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(red(`demo failed: ${err instanceof Error ? err.message : String(err)}`));
    process.exit(1);
  },
);
