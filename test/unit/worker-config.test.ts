import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { KubeConfig } from '@kubernetes/client-node';
import type { Client } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import {
  describeConfig,
  parseWorkerConfig,
  WorkerConfigError,
  type WorkerConfig,
} from '../../worker/config';
import { loadConnectionOptions, ConnectionConfigError } from '../../src/temporal/connection';
import { createWorkerOptions, workflowsPath } from '../../worker/worker';

const dir = mkdtempSync(join(tmpdir(), 'changectl-worker-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const policyPath = join(dir, 'policy.yaml');
writeFileSync(policyPath, 'apiVersion: changectl/v1\n');
const bundlePath = join(dir, 'workflow-bundle.js');
writeFileSync(bundlePath, '// bundle\n');
const kubeconfigPath = join(dir, 'kubeconfig');
writeFileSync(kubeconfigPath, 'apiVersion: v1\n');
// An empty Temporal config file, so that the user's own temporal.toml never leaks in.
const temporalToml = join(dir, 'temporal.toml');
writeFileSync(temporalToml, '');

const SECRETS = {
  PROMETHEUS_BEARER_TOKEN: 'prom-token-s3cret',
  PROMETHEUS_PASSWORD: 'prom-password-s3cret',
  TEMPORAL_API_KEY: 'temporal-api-key-s3cret',
  CHANGECTL_NOTIFY_WEBHOOK_URL: 'https://hooks.example.com/services/T000/B000/webhook-s3cret',
};

function baseEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    TEMPORAL_CONFIG_FILE: temporalToml,
    PROMETHEUS_URL: 'http://127.0.0.1:9090',
    CHANGECTL_POLICY: policyPath,
    ...extra,
  };
}

function issuesOf(env: NodeJS.ProcessEnv): Map<string, string> {
  try {
    parseWorkerConfig(env);
  } catch (err) {
    assert.ok(err instanceof WorkerConfigError, `a WorkerConfigError, got ${String(err)}`);
    return new Map(err.issues.map((i) => [i.variable, i.message]));
  }
  assert.fail('the configuration was accepted');
}

function assertNoSecrets(text: string): void {
  for (const [name, value] of Object.entries(SECRETS)) {
    assert.ok(!text.includes(value), `${name}'s value leaked: ${text}`);
  }
  assert.ok(!text.includes('s3cret'), `a secret leaked: ${text}`);
}

describe('parseWorkerConfig', () => {
  it('applies the defaults with only the required variables', () => {
    const config = parseWorkerConfig(baseEnv());
    assert.deepEqual(config, {
      temporal: { address: 'localhost:7233', namespace: 'default' },
      taskQueue: 'changectl',
      kube: { inCluster: false },
      prometheus: { url: 'http://127.0.0.1:9090', timeoutMs: 10_000 },
      notifications: { log: true },
      gates: {},
      policyPath,
      veleroNamespace: 'velero',
      production: false,
    } satisfies WorkerConfig);
  });

  it('reads every variable', () => {
    const notifyFile = join(dir, 'notifications.jsonl');
    const config = parseWorkerConfig(
      baseEnv({
        TEMPORAL_ADDRESS: 'temporal.example.com:7233',
        TEMPORAL_NAMESPACE: 'changes',
        TEMPORAL_API_KEY: SECRETS.TEMPORAL_API_KEY,
        TEMPORAL_GRPC_META_X_TEAM: 'platform',
        CHANGECTL_TASK_QUEUE: 'changectl-prod',
        KUBECONFIG: kubeconfigPath,
        CHANGECTL_KUBE_CONTEXT: 'prod',
        PROMETHEUS_URL: 'https://prometheus.example.com/',
        PROMETHEUS_USERNAME: 'changectl',
        PROMETHEUS_PASSWORD: SECRETS.PROMETHEUS_PASSWORD,
        PROMETHEUS_TIMEOUT: '30s',
        CHANGECTL_NOTIFY_LOG: 'false',
        CHANGECTL_NOTIFY_WEBHOOK_URL: SECRETS.CHANGECTL_NOTIFY_WEBHOOK_URL,
        CHANGECTL_NOTIFY_FILE: notifyFile,
        CHANGECTL_GATE_WEBHOOKS: JSON.stringify({ 'load-test': 'https://gates.example.com/load' }),
        CHANGECTL_VELERO_NAMESPACE: 'backups',
        NODE_ENV: 'production',
        CHANGECTL_WORKFLOW_BUNDLE: bundlePath,
      }),
    );
    assert.deepEqual(config, {
      temporal: {
        address: 'temporal.example.com:7233',
        namespace: 'changes',
        apiKey: SECRETS.TEMPORAL_API_KEY,
        // envconfig turns TLS on when an API key is given.
        tls: true,
        metadata: { 'x-team': 'platform' },
      },
      taskQueue: 'changectl-prod',
      kube: { inCluster: false, kubeconfigPath, context: 'prod' },
      prometheus: {
        url: 'https://prometheus.example.com',
        timeoutMs: 30_000,
        auth: { kind: 'basic', username: 'changectl', password: SECRETS.PROMETHEUS_PASSWORD },
      },
      notifications: {
        log: false,
        webhookUrl: SECRETS.CHANGECTL_NOTIFY_WEBHOOK_URL,
        file: notifyFile,
      },
      gates: { 'load-test': 'https://gates.example.com/load' },
      policyPath,
      veleroNamespace: 'backups',
      production: true,
      workflowBundlePath: bundlePath,
    } satisfies WorkerConfig);
  });

  it('refuses gate webhooks that are not a JSON object of names to URLs', () => {
    for (const value of ['not json', '{"Load Test": "https://x.example"}', '{"a": "ftp://x"}']) {
      assert.throws(
        () => parseWorkerConfig(baseEnv({ CHANGECTL_GATE_WEBHOOKS: value })),
        (err: unknown) =>
          err instanceof WorkerConfigError &&
          err.issues.some(
            (i) =>
              i.variable === 'CHANGECTL_GATE_WEBHOOKS' &&
              /JSON object of gate names/.test(i.message),
          ),
      );
    }
  });

  it('takes a bearer token and in-cluster credentials', () => {
    const config = parseWorkerConfig(
      baseEnv({
        PROMETHEUS_BEARER_TOKEN: SECRETS.PROMETHEUS_BEARER_TOKEN,
        CHANGECTL_KUBE_IN_CLUSTER: 'true',
      }),
    );
    assert.deepEqual(config.prometheus.auth, {
      kind: 'bearer',
      token: SECRETS.PROMETHEUS_BEARER_TOKEN,
    });
    assert.deepEqual(config.kube, { inCluster: true });
  });

  it('treats empty values as unset', () => {
    const config = parseWorkerConfig(
      baseEnv({
        CHANGECTL_TASK_QUEUE: '',
        CHANGECTL_NOTIFY_WEBHOOK_URL: '',
        PROMETHEUS_TIMEOUT: ' ',
      }),
    );
    assert.equal(config.taskQueue, 'changectl');
    assert.equal(config.notifications.webhookUrl, undefined);
    assert.equal(config.prometheus.timeoutMs, 10_000);
  });

  it('names every missing required variable at once', () => {
    const issues = issuesOf({ TEMPORAL_CONFIG_FILE: temporalToml });
    assert.deepEqual([...issues.keys()].sort(), ['CHANGECTL_POLICY', 'PROMETHEUS_URL']);
    assert.match(issues.get('PROMETHEUS_URL') ?? '', /required/);
    assert.match(issues.get('CHANGECTL_POLICY') ?? '', /required/);
  });

  const invalid: [variable: string, value: string, expected: RegExp][] = [
    ['CHANGECTL_TASK_QUEUE', 'two words', /without spaces/],
    ['KUBECONFIG', join(dir, 'missing-kubeconfig'), /file not found/],
    ['CHANGECTL_KUBE_IN_CLUSTER', 'yes', /true or false/],
    ['PROMETHEUS_URL', 'prometheus:9090', /http\(s\) URL/],
    ['PROMETHEUS_URL', 'ftp://prometheus', /http\(s\) URL/],
    ['PROMETHEUS_TIMEOUT', 'soon', /duration/],
    ['PROMETHEUS_TIMEOUT', '0s', /duration/],
    ['CHANGECTL_POLICY', join(dir, 'missing.yaml'), /file not found/],
    ['CHANGECTL_POLICY', dir, /a folder/],
    ['CHANGECTL_NOTIFY_LOG', 'on', /true or false/],
    ['CHANGECTL_NOTIFY_WEBHOOK_URL', 'hooks.example.com/s3cret', /http\(s\) URL/],
    ['CHANGECTL_NOTIFY_FILE', join(dir, 'no-such-folder', 'n.jsonl'), /does not exist/],
    ['CHANGECTL_VELERO_NAMESPACE', 'Velero NS', /namespace name/],
    ['CHANGECTL_WORKFLOW_BUNDLE', join(dir, 'missing-bundle.js'), /file not found/],
    ['TEMPORAL_ADDRESS', 'temporal.example.com', /host:port/],
    ['TEMPORAL_TLS', 'maybe', /true or false/],
    ['TEMPORAL_TLS_CLIENT_CERT_PATH', join(dir, 'missing.crt'), /file not found/],
    ['TEMPORAL_CONFIG_FILE', join(dir, 'missing.toml'), /file not found/],
    ['TEMPORAL_PROFILE', 'staging', /Profile 'staging' not found/],
  ];
  for (const [variable, value, expected] of invalid) {
    it(`names ${variable} when it is ${JSON.stringify(value)}`, () => {
      const issues = issuesOf(baseEnv({ [variable]: value }));
      assert.deepEqual([...issues.keys()], [variable]);
      assert.match(issues.get(variable) ?? '', expected);
    });
  }

  it('lists every bad variable in one error, never repeating a secret', () => {
    let error: unknown;
    try {
      parseWorkerConfig({
        TEMPORAL_CONFIG_FILE: temporalToml,
        TEMPORAL_API_KEY: SECRETS.TEMPORAL_API_KEY,
        TEMPORAL_ADDRESS: 'no-port',
        PROMETHEUS_URL: `https://user:${SECRETS.PROMETHEUS_PASSWORD}@prometheus.example.com`,
        PROMETHEUS_BEARER_TOKEN: SECRETS.PROMETHEUS_BEARER_TOKEN,
        PROMETHEUS_USERNAME: 'changectl',
        CHANGECTL_NOTIFY_WEBHOOK_URL: `not a url ${SECRETS.CHANGECTL_NOTIFY_WEBHOOK_URL}`,
        CHANGECTL_NOTIFY_LOG: 'sometimes',
      });
    } catch (err) {
      error = err;
    }
    assert.ok(error instanceof WorkerConfigError);
    const variables = error.issues.map((i) => i.variable).sort();
    assert.deepEqual(variables, [
      'CHANGECTL_NOTIFY_LOG',
      'CHANGECTL_NOTIFY_WEBHOOK_URL',
      'CHANGECTL_POLICY',
      'PROMETHEUS_BEARER_TOKEN',
      'PROMETHEUS_PASSWORD',
      'PROMETHEUS_URL',
      'TEMPORAL_ADDRESS',
    ]);
    for (const variable of variables) assert.ok(error.message.includes(variable));
    assertNoSecrets(error.message);
    assert.match(error.message, /PROMETHEUS_URL: expected a URL without credentials/);
  });

  it('requires a password with a user name and a user name with a password', () => {
    assert.deepEqual(
      [...issuesOf(baseEnv({ PROMETHEUS_USERNAME: 'changectl' })).keys()],
      ['PROMETHEUS_PASSWORD'],
    );
    const issues = issuesOf(baseEnv({ PROMETHEUS_PASSWORD: SECRETS.PROMETHEUS_PASSWORD }));
    assert.deepEqual([...issues.keys()], ['PROMETHEUS_USERNAME']);
    assertNoSecrets([...issues.values()].join('\n'));
  });

  it('refuses in-cluster credentials together with a kubeconfig or a context', () => {
    const issues = issuesOf(
      baseEnv({
        CHANGECTL_KUBE_IN_CLUSTER: 'true',
        KUBECONFIG: kubeconfigPath,
        CHANGECTL_KUBE_CONTEXT: 'prod',
      }),
    );
    assert.deepEqual([...issues.keys()].sort(), [
      'CHANGECTL_KUBE_CONTEXT',
      'CHANGECTL_KUBE_IN_CLUSTER',
    ]);
  });

  it('requires a prebuilt workflow bundle in production', () => {
    const issues = issuesOf(baseEnv({ NODE_ENV: 'production' }));
    assert.deepEqual([...issues.keys()], ['CHANGECTL_WORKFLOW_BUNDLE']);
    assert.match(issues.get('CHANGECTL_WORKFLOW_BUNDLE') ?? '', /NODE_ENV=production/);
    assert.equal(parseWorkerConfig(baseEnv({ NODE_ENV: 'development' })).production, false);
  });

  it('reads the Temporal connection from a profile, the environment overriding it', () => {
    const toml = join(dir, 'profiles.toml');
    writeFileSync(
      toml,
      [
        '[profile.staging]',
        'address = "staging.example.com:7233"',
        'namespace = "staging"',
        `api_key = "${SECRETS.TEMPORAL_API_KEY}"`,
        '',
      ].join('\n'),
    );
    const fromProfile = parseWorkerConfig(
      baseEnv({ TEMPORAL_CONFIG_FILE: toml, TEMPORAL_PROFILE: 'staging' }),
    );
    assert.deepEqual(fromProfile.temporal, {
      address: 'staging.example.com:7233',
      namespace: 'staging',
      apiKey: SECRETS.TEMPORAL_API_KEY,
      tls: true,
    });
    const overridden = parseWorkerConfig(
      baseEnv({
        TEMPORAL_CONFIG_FILE: toml,
        TEMPORAL_PROFILE: 'staging',
        TEMPORAL_NAMESPACE: 'other',
        TEMPORAL_TLS: 'false',
      }),
    );
    assert.equal(overridden.temporal.namespace, 'other');
    assert.equal(overridden.temporal.tls, false);
  });
});

describe('describeConfig', () => {
  it('describes the configuration on one line without any secret', () => {
    const withSecrets = parseWorkerConfig(
      baseEnv({
        TEMPORAL_API_KEY: SECRETS.TEMPORAL_API_KEY,
        PROMETHEUS_BEARER_TOKEN: SECRETS.PROMETHEUS_BEARER_TOKEN,
        CHANGECTL_NOTIFY_WEBHOOK_URL: SECRETS.CHANGECTL_NOTIFY_WEBHOOK_URL,
        CHANGECTL_NOTIFY_FILE: join(dir, 'n.jsonl'),
      }),
    );
    const line = describeConfig(withSecrets);
    assert.ok(!line.includes('\n'));
    assertNoSecrets(line);
    for (const part of [
      'temporal=localhost:7233',
      'apiKey=set',
      'tls=on',
      'taskQueue=changectl',
      'prometheus=http://127.0.0.1:9090',
      'prometheusAuth=bearer',
      `notify=log,webhook,file:${join(dir, 'n.jsonl')}`,
      `policy=${policyPath}`,
      'workflows=source',
    ]) {
      assert.ok(line.includes(part), `'${part}' in ${line}`);
    }

    const basic = parseWorkerConfig(
      baseEnv({
        PROMETHEUS_USERNAME: 'changectl',
        PROMETHEUS_PASSWORD: SECRETS.PROMETHEUS_PASSWORD,
      }),
    );
    assert.match(describeConfig(basic), /prometheusAuth=basic\(changectl\)/);
    assertNoSecrets(describeConfig(basic));
  });
});

describe('loadConnectionOptions', () => {
  it('lets explicit options win over the environment', () => {
    const options = loadConnectionOptions({
      address: '127.0.0.1:7999',
      namespace: 'explicit',
      env: {
        TEMPORAL_CONFIG_FILE: temporalToml,
        TEMPORAL_ADDRESS: 'env.example.com:7233',
        TEMPORAL_NAMESPACE: 'from-env',
      },
    });
    assert.deepEqual(options, { address: '127.0.0.1:7999', namespace: 'explicit' });
  });

  it('names an explicit profile that is not in the config file', () => {
    assert.throws(
      () => loadConnectionOptions({ profile: 'nope', env: { TEMPORAL_CONFIG_FILE: temporalToml } }),
      (err: unknown) =>
        err instanceof ConnectionConfigError && err.issues[0]?.variable === 'profile',
    );
  });
});

describe('createWorkerOptions', () => {
  // Worker options only pass the connection and the client on; nothing is called on them here.
  const connection = {} as NativeConnection;
  const client = {} as Client;
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'c', server: 'https://127.0.0.1:6443', skipTLSVerify: false }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });

  it('bundles the workflows from source outside production', () => {
    const options = createWorkerOptions(parseWorkerConfig(baseEnv()), connection, client, {
      kubeConfig,
    });
    assert.equal(options.workflowsPath, workflowsPath);
    assert.ok(existsSync(workflowsPath), workflowsPath);
    assert.equal(options.workflowBundle, undefined);
    assert.equal(options.taskQueue, 'changectl');
    assert.equal(options.namespace, 'default');
    assert.equal(options.connection, connection);
  });

  it('loads the prebuilt bundle in production', () => {
    const config = parseWorkerConfig(
      baseEnv({
        NODE_ENV: 'production',
        CHANGECTL_WORKFLOW_BUNDLE: bundlePath,
        CHANGECTL_TASK_QUEUE: 'changes',
        TEMPORAL_NAMESPACE: 'prod',
      }),
    );
    const options = createWorkerOptions(config, connection, client, { kubeConfig });
    assert.deepEqual(options.workflowBundle, { codePath: bundlePath });
    assert.equal(options.workflowsPath, undefined);
    assert.equal(options.taskQueue, 'changes');
    assert.equal(options.namespace, 'prod');
  });

  it('registers the activities of every outside system', () => {
    const options = createWorkerOptions(parseWorkerConfig(baseEnv()), connection, client, {
      kubeConfig,
    });
    const names = Object.keys(options.activities ?? {});
    for (const name of [
      'checkRollbackReadiness',
      'startRollout',
      'rollbackRollout',
      'createBackup',
      'restoreBackup',
      'validateQueries',
      'watchMetrics',
      'notify',
      'loadPolicy',
      'requestServiceLock',
      'releaseServiceLock',
    ]) {
      assert.ok(names.includes(name), `${name} is registered`);
    }
  });
});

describe('worker entry point', () => {
  it('exits 2 naming the bad variables, without connecting anywhere', async () => {
    const main = fileURLToPath(new URL('../../worker/main.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', main], {
      env: {
        PATH: process.env.PATH,
        TEMPORAL_CONFIG_FILE: temporalToml,
        // Nothing listens here; a connection attempt would fail differently (exit 1).
        TEMPORAL_ADDRESS: '127.0.0.1:1',
        PROMETHEUS_URL: 'http://127.0.0.1:9090',
        PROMETHEUS_BEARER_TOKEN: SECRETS.PROMETHEUS_BEARER_TOKEN,
        CHANGECTL_NOTIFY_LOG: 'maybe',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    assert.equal(code, 2, output);
    assert.match(output, /CHANGECTL_POLICY: required/);
    assert.match(output, /CHANGECTL_NOTIFY_LOG: expected true or false/);
    assert.doesNotMatch(output, /starting|polling/);
    assertNoSecrets(output);
  });
});
