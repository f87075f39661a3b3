// `npm run cluster`: the local Kubernetes control plane in the foreground, with Velero backing up
// to a local S3 server, for trying kubectl and for running the worker against it; Ctrl-C stops
// it and removes its files.
import { parseArgs } from 'node:util';
import { startLocalCluster } from '../src/stack/cluster/index';
import { ensureProvisioned } from '../src/stack/provision';
import { startS3 } from '../src/stack/s3';
import { startVelero } from '../src/stack/velero';

const usage =
  'usage: npm run cluster -- [--kubeconfig PATH] [--pod-ready-ms N] [--no-seed] [--no-velero]';

function numberFlag(raw: string | undefined, name: string): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n < 0) {
    throw new Error(`--${name} expects a non-negative number, got ${JSON.stringify(raw)}`);
  }
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      kubeconfig: { type: 'string' },
      'pod-ready-ms': { type: 'string' },
      'no-seed': { type: 'boolean' },
      'no-velero': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(usage);
    return;
  }
  ensureProvisioned({ temporal: false });
  const started = Date.now();
  const cluster = await startLocalCluster({
    ...(values.kubeconfig ? { kubeconfigPath: values.kubeconfig } : {}),
    podReadyDelayMs: numberFlag(values['pod-ready-ms'], 'pod-ready-ms'),
    seed: !values['no-seed'],
    log: (line) => console.log(line),
  });
  const s3 = values['no-velero'] ? undefined : await startS3();
  const velero = s3 ? await startVelero({ kubeconfigPath: cluster.kubeconfigPath, s3 }) : undefined;
  if (s3) console.log(`Velero backing up to ${s3.endpoint}/${s3.bucket} (${s3.dataDir})`);
  console.log(`\ncluster ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  console.log(`API server: ${cluster.server}`);
  console.log(`kubeconfig: ${cluster.kubeconfigPath}`);
  console.log(`logs: ${cluster.dir}/*.log`);
  console.log(`try: KUBECONFIG=${cluster.kubeconfigPath} kubectl get deployments -n production`);
  console.log('Ctrl-C stops it\n');

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping the cluster`);
    (async () => {
      await velero?.stop();
      await s3?.stop();
      await cluster.stop();
    })().then(
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
  process.exit(1);
});
