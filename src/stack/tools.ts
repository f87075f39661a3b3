import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project root: the folder holding package.json. */
export const projectRoot = resolve(fileURLToPath(import.meta.url), '../../..');

export type ToolName = 'temporal' | 'temporal-test-server' | 'prometheus';

export class ToolMissingError extends Error {
  constructor(
    readonly tool: ToolName,
    readonly looked: string,
  ) {
    super(`${tool} is not installed (looked for ${looked}); run 'npm run provision' to install it`);
    this.name = 'ToolMissingError';
  }
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/**
 * Path of a binary the demo and the tests need. Temporal's binaries come only from the
 * project-local .tools/bin (pinned versions); Prometheus from PATH (Debian's package).
 * CHANGECTL_TOOLS_DIR overrides the folder for installs kept elsewhere.
 */
export function toolPath(tool: ToolName): string {
  if (tool === 'prometheus') {
    const found = onPath('prometheus');
    if (!found) throw new ToolMissingError(tool, 'prometheus on PATH');
    return found;
  }
  const dir = process.env.CHANGECTL_TOOLS_DIR ?? join(projectRoot, '.tools', 'bin');
  const path = join(dir, tool);
  if (!existsSync(path)) throw new ToolMissingError(tool, path);
  return path;
}

/** The control plane's binaries (and KWOK's stages folder), built by scripts/provision-cluster.sh. */
export type ClusterToolName =
  | 'etcd'
  | 'kube-apiserver'
  | 'kube-controller-manager'
  | 'kube-scheduler'
  | 'kwok'
  | 'kwok-stages'
  | 'velero'
  | 'velero-plugin-for-aws'
  | 'versitygw';

export class ClusterToolMissingError extends Error {
  constructor(
    readonly tool: ClusterToolName,
    readonly looked: string,
  ) {
    super(
      `${tool} is not built (looked for ${looked}); run 'npm run provision' to build the local ` +
        'control plane (several minutes the first time on a machine, cached afterwards)',
    );
    this.name = 'ClusterToolMissingError';
  }
}

/** Where the control plane's tools are linked: CHANGECTL_CLUSTER_TOOLS, else .tools/cluster. */
export function clusterToolPath(tool: ClusterToolName): string {
  const dir = process.env.CHANGECTL_CLUSTER_TOOLS ?? join(projectRoot, '.tools', 'cluster');
  const path = join(dir, tool);
  if (!existsSync(path)) throw new ClusterToolMissingError(tool, path);
  return path;
}
