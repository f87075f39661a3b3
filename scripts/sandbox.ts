// `npm run sandbox`: the sandbox cluster in the foreground, for the demo and for trying kubectl.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { startSandbox } from '../src/stack/sandbox/index';

const usage = `usage: npm run sandbox -- [--port N] [--kubeconfig PATH] [--pod-ready-ms N]
                        [--fault-5xx RATE] [--fault-409 RATE] [--latency-ms N] [--no-seed]`;

function numberFlag(values: Record<string, unknown>, name: string): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(n) || n < 0) {
    throw new Error(`--${name} expects a non-negative number, got ${JSON.stringify(raw)}`);
  }
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      kubeconfig: { type: 'string' },
      'pod-ready-ms': { type: 'string' },
      'fault-5xx': { type: 'string' },
      'fault-409': { type: 'string' },
      'latency-ms': { type: 'string' },
      'no-seed': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(usage);
    return;
  }
  const faults = {
    serverErrorRate: numberFlag(values, 'fault-5xx') ?? 0,
    conflictOnUpdate: numberFlag(values, 'fault-409') ?? 0,
    latencyMs: numberFlag(values, 'latency-ms') ?? 0,
  };
  const sandbox = await startSandbox({
    port: numberFlag(values, 'port') ?? 0,
    podReadyAfterMs: numberFlag(values, 'pod-ready-ms'),
    kubeconfigPath: values.kubeconfig,
    seed: !values['no-seed'],
    faults,
  });
  console.log(`sandbox cluster listening on ${sandbox.url}`);
  console.log(`kubeconfig: ${sandbox.kubeconfigPath}\n`);
  console.log(await readFile(sandbox.kubeconfigPath, 'utf8'));
  console.log(`try: KUBECONFIG=${sandbox.kubeconfigPath} kubectl get deployments -n production`);
  console.log(
    `metrics: ${sandbox.url}/metrics   faults: curl -X PUT ${sandbox.url}/sandbox/faults -d '{"serverErrorRate":0.1}'`,
  );

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping the sandbox`);
    sandbox.close().then(
      () => process.exit(0),
      (e: unknown) => {
        console.error(e);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  console.error(usage);
  process.exit(2);
});
