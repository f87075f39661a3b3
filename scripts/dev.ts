// `npm run dev`: the whole local stack in the foreground (Temporal with its Web UI, the local
// Kubernetes cluster, Prometheus, a worker); Ctrl-C stops all of it.
import { parseArgs } from 'node:util';
import {
  DevStackRunningError,
  displayPath,
  parseUiPort,
  startDevStack,
} from '../src/stack/devstack';
import { ensureProvisioned, ProvisionError } from '../src/stack/provision';

const usage = 'usage: npm run dev -- [--ui-port N] [--quiet-worker]';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      'ui-port': { type: 'string' },
      'quiet-worker': { type: 'boolean' },
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

  try {
    ensureProvisioned();
  } catch (err) {
    if (err instanceof ProvisionError) {
      console.error(err.message);
      return 1;
    }
    throw err;
  }
  const started = Date.now();
  let stack;
  try {
    stack = await startDevStack({
      exitOnSignal: true,
      echoWorker: !values['quiet-worker'],
      log: (line) => console.log(line),
      ...(uiPort !== undefined ? { uiPort } : {}),
    });
  } catch (err) {
    if (err instanceof DevStackRunningError) {
      console.error(err.message);
      return 1;
    }
    throw err;
  }

  const envFile = displayPath(stack.envFile);
  console.log(`\nready in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  for (const [key, value] of Object.entries(stack.env)) console.log(`  ${key}=${value}`);
  console.log(`\nTemporal Web UI: ${stack.uiUrl}`);
  console.log(`in another shell: source ${envFile}`);
  const people = Object.entries(stack.keys);
  if (people.length > 0) {
    console.log(
      `\nact as a person of the policy with their key (made for this stack; policy ${displayPath(stack.policyPath)}):`,
    );
    const width = Math.max(...people.map(([person]) => person.length));
    for (const [person, key] of people) {
      console.log(
        `  ${person.padEnd(width)}  CHANGECTL_KEY=${displayPath(key.path)} changectl approve <id>`,
      );
    }
    console.log(
      '  (changectl whoami tells whose key it is; changectl sign prints a signed payload for the UI)',
    );
  }
  if (stack.ownKeys.length > 0) {
    console.log(`keys of their own in the policy: ${stack.ownKeys.join(', ')}`);
  }
  console.log(`logs: ${displayPath(stack.stateDir)}/{temporal,worker,prometheus}.log`);
  console.log('Ctrl-C stops everything\n');
  // The stack's signal handlers end the process; until then, its children keep the loop alive.
  return new Promise<number>(() => undefined);
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`dev stack failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
