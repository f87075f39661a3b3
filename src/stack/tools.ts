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
