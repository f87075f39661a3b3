import { randomUUID } from 'node:crypto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import {
  bundleWorkflowCode,
  DefaultLogger,
  Runtime,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import { changeSearchAttributes } from '../../src/core/search-attributes';
import { indexedValueTypes } from '../../src/temporal/search-attributes';
import { toolPath } from '../../src/stack/tools';

// Worker state changes at INFO drown test output; warnings and errors still show.
Runtime.install({
  logger: new DefaultLogger(process.env.TEMPORAL_LOG_LEVEL === 'DEBUG' ? 'DEBUG' : 'WARN'),
});

/**
 * A time-skipping server from the provisioned binary (nothing is downloaded), with changectl's
 * search attributes registered as on a real namespace.
 */
export async function createTimeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: toolPath('temporal-test-server') } },
  });
  // The test server implements adding search attributes but not listing them.
  await env.connection.operatorService.addSearchAttributes({
    namespace: env.namespace ?? 'default',
    searchAttributes: indexedValueTypes(changeSearchAttributes),
  });
  return env;
}

/** A real Temporal dev server on loopback with changectl's search attributes registered. */
export function createDevServerEnv(
  options: { ui?: boolean; dbFilename?: string; port?: number } = {},
): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: toolPath('temporal') },
      ip: '127.0.0.1',
      searchAttributes: [...changeSearchAttributes],
      ui: options.ui ?? false,
      ...(options.dbFilename ? { dbFilename: options.dbFilename } : {}),
      ...(options.port ? { port: options.port } : {}),
    },
  });
}

function slug(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, 60);
}

/** A task queue no other test shares, derived from the test's title. */
export function uniqueTaskQueue(title: string): string {
  return `test-${slug(title)}-${randomUUID().slice(0, 8)}`;
}

/** A workflow id no other test shares. */
export function uniqueWorkflowId(prefix: string): string {
  return `${slug(prefix)}-${randomUUID().slice(0, 8)}`;
}

/** A change id that fits the request schema's pattern and no other test shares. */
export function uniqueChangeId(prefix = 'TEST'): string {
  return `${prefix}-${Math.floor(Math.random() * 1e9)}`;
}

const bundles = new Map<string, Promise<WorkflowBundleWithSourceMap>>();

/** Bundles a workflows module once per test process, so each test's worker starts fast. */
export function workflowBundle(workflowsPath: string): Promise<WorkflowBundleWithSourceMap> {
  let bundle = bundles.get(workflowsPath);
  if (!bundle) {
    bundle = bundleWorkflowCode({ workflowsPath, logger: quietBundlerLogger });
    bundles.set(workflowsPath, bundle);
  }
  return bundle;
}

const noop = (): void => undefined;
const quietBundlerLogger = {
  log: noop,
  trace: noop,
  debug: noop,
  info: noop,
  warn: (message: string, meta?: Record<string, unknown>) => console.warn(message, meta ?? ''),
  error: (message: string, meta?: Record<string, unknown>) => console.error(message, meta ?? ''),
};
