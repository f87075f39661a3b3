/**
 * Provisions what the local stack needs before `npm run dev`, the demo or `npm run cluster`
 * start it: scripts/provision.sh when a tool is missing (Temporal, Prometheus, and unless the
 * caller brings its own cluster, the control plane's binaries), with its progress lines shown.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import {
  ClusterToolMissingError,
  clusterToolPath,
  projectRoot,
  ToolMissingError,
  toolPath,
  type ClusterToolName,
  type ToolName,
} from './tools';

export interface ProvisionNeeds {
  /** Temporal's CLI and test server, Prometheus. Default true. */
  temporal?: boolean;
  /** The local control plane (etcd, kube-*, KWOK, Velero, versitygw). Default true. */
  cluster?: boolean;
}

const stackTools: ToolName[] = ['temporal', 'temporal-test-server', 'prometheus'];
const clusterTools: ClusterToolName[] = [
  'etcd',
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kwok',
  'kwok-stages',
  'velero',
  'velero-plugin-for-aws',
  'versitygw',
];

/** What is missing, one message each. */
export function missingTools(needs: ProvisionNeeds = {}): string[] {
  const missing: string[] = [];
  if (needs.temporal !== false) {
    for (const tool of stackTools) {
      try {
        toolPath(tool);
      } catch (err) {
        if (!(err instanceof ToolMissingError)) throw err;
        missing.push(err.message);
      }
    }
  }
  if (needs.cluster !== false) {
    for (const tool of clusterTools) {
      try {
        clusterToolPath(tool);
      } catch (err) {
        if (!(err instanceof ClusterToolMissingError)) throw err;
        missing.push(err.message);
      }
    }
  }
  return missing;
}

export class ProvisionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProvisionError';
  }
}

/** Runs scripts/provision.sh when something is missing; throws ProvisionError when it fails. */
export function ensureProvisioned(
  needs: ProvisionNeeds = {},
  log: (line: string) => void = (line) => console.log(line),
): void {
  const missing = missingTools(needs);
  if (missing.length === 0) return;
  log(`provisioning: ${missing.length} tool(s) missing, running scripts/provision.sh`);
  const args = [join(projectRoot, 'scripts', 'provision.sh')];
  if (needs.cluster === false) args.push('--no-cluster');
  const result = spawnSync('bash', args, { cwd: projectRoot, stdio: 'inherit' });
  const still = missingTools(needs);
  if (result.status !== 0 || still.length > 0) {
    throw new ProvisionError(
      `provisioning failed (exit ${result.status ?? result.signal ?? '?'})` +
        (still.length ? `: ${still.join('; ')}` : ''),
    );
  }
}
