import { describeConfig, parseWorkerConfig, WorkerConfigError, type WorkerConfig } from './config';

const ExitCode = { Ok: 0, Failed: 1, BadConfig: 2 } as const;

function log(line: string): void {
  console.log(`changectl worker: ${line}`);
}

async function runWorker(config: WorkerConfig): Promise<number> {
  // Loaded only once the configuration is good, so that a bad one is reported at once.
  const [
    { Client },
    { NativeConnection, Worker },
    { KubeConfigError },
    { createWorkerOptions, kubeConfigOf },
  ] = await Promise.all([
    import('@temporalio/client'),
    import('@temporalio/worker'),
    import('../activities/kubernetes/kubeconfig'),
    import('./worker'),
  ]);
  let kubeConfig;
  try {
    kubeConfig = kubeConfigOf(config);
  } catch (err) {
    if (!(err instanceof KubeConfigError)) throw err;
    console.error(`worker configuration is invalid: ${err.message}`);
    return ExitCode.BadConfig;
  }
  log(`starting; ${describeConfig(config)}`);
  const connection = await NativeConnection.connect(config.temporal);
  try {
    const client = new Client({ connection, namespace: config.temporal.namespace });
    const worker = await Worker.create(
      createWorkerOptions(config, connection, client, { kubeConfig }),
    );
    // The SDK's runtime shuts the worker down on SIGINT/SIGTERM and then stops listening, so a
    // second signal ends the process at once; this only says so.
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => log(`${signal}: draining, again to stop at once`));
    }
    log(`polling task queue ${config.taskQueue}`);
    await worker.run();
    log('stopped');
    return ExitCode.Ok;
  } finally {
    await connection.close();
  }
}

async function main(): Promise<number> {
  let config: WorkerConfig;
  try {
    config = parseWorkerConfig(process.env);
  } catch (err) {
    if (err instanceof WorkerConfigError) {
      console.error(err.message);
      return ExitCode.BadConfig;
    }
    throw err;
  }
  return runWorker(config);
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error('changectl worker failed:', err);
    process.exitCode = ExitCode.Failed;
  },
);
