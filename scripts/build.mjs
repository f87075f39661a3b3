// Compiles changectl's entry points with esbuild:
// - cli: src/cli/main.ts and everything it imports, dependencies included, into dist/cli-<build>/,
//   split into chunks so a command loads only what it needs. dist/cli.json records every input
//   file with its size and mtime; bin/changectl.js runs the build it names and rebuilds first
//   when any input changed, so a checkout never runs stale code.
// - worker: worker/main.ts into dist/worker/main.mjs, dependencies left in node_modules (the
//   worker's core is native). With the prebuilt workflow bundle (npm run build:workflows) this is
//   what a production worker runs (deploy/Dockerfile).
// Runs as `npm ci`'s prepare step (cli), from bin/changectl.js, or by hand:
// `node scripts/build.mjs [cli|worker] [--if-stale]` (--if-stale: only when a source changed).
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = resolve(fileURLToPath(import.meta.url), '../..');
const dist = join(root, 'dist');
const manifestPath = join(dist, 'cli.json');

/** The recorded build, or undefined when there is none or it is not readable. */
function readManifest() {
  try {
    return JSON.parse(readFileSync(manifestPath, 'utf8'));
  } catch {
    return undefined;
  }
}

function fingerprint(path) {
  const s = statSync(path);
  return `${s.size}:${Math.trunc(s.mtimeMs)}`;
}

/** True when the manifest's build exists and none of its inputs changed since it was made. */
export function isFresh(manifest) {
  if (!manifest || typeof manifest.entry !== 'string' || !manifest.inputs) return false;
  try {
    statSync(join(dist, manifest.entry));
    for (const [path, print] of Object.entries(manifest.inputs)) {
      if (fingerprint(join(root, path)) !== print) return false;
    }
    return true;
  } catch {
    return false;
  }
}

/** Builds the CLI into a fresh folder, then points dist/cli.json at it (atomically). */
export async function buildCli({ quiet = false } = {}) {
  const { build } = await import('esbuild');
  const id = `cli-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  const outdir = join(dist, id);
  const started = Date.now();
  const result = await build({
    absWorkingDir: root,
    entryPoints: { main: 'src/cli/main.ts' },
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    outdir,
    outExtension: { '.js': '.mjs' },
    metafile: true,
    minifySyntax: true,
    minifyWhitespace: true,
    legalComments: 'none',
    logLevel: 'error',
    // Optional native speed-ups of ws that are not installed; ws falls back to JS without them.
    external: ['bufferutil', 'utf-8-validate'],
    // CommonJS dependencies call require(); give the ESM bundle one.
    banner: {
      js: "import { createRequire as __changectlRequire } from 'node:module'; const require = __changectlRequire(import.meta.url);",
    },
  });
  const inputs = {};
  for (const path of [
    ...Object.keys(result.metafile.inputs),
    'package.json',
    'scripts/build.mjs',
  ]) {
    if (path.includes('node_modules/')) continue;
    inputs[relative(root, resolve(root, path))] = fingerprint(join(root, path));
  }
  // Dependencies change only through the lock file; one fingerprint covers all of them.
  inputs['package-lock.json'] = fingerprint(join(root, 'package-lock.json'));
  const manifest = { entry: `${id}/main.mjs`, builtAt: new Date().toISOString(), inputs };
  const tmp = `${manifestPath}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(manifest, null, 1));
  renameSync(tmp, manifestPath);
  removeOldBuilds(id);
  if (!quiet) {
    console.error(
      `changectl: compiled the CLI in ${Date.now() - started} ms (${Object.keys(inputs).length} sources) into dist/${id}`,
    );
  }
  return manifest;
}

/** Builds that no manifest names any more; kept a minute, since a running CLI may still load chunks. */
function removeOldBuilds(current) {
  let entries = [];
  try {
    entries = readdirSync(dist);
  } catch {
    return;
  }
  for (const name of entries) {
    if (!name.startsWith('cli-') || name === current) continue;
    const dir = join(dist, name);
    try {
      if (Date.now() - statSync(dir).mtimeMs > 60_000)
        rmSync(dir, { recursive: true, force: true });
    } catch {
      // Another build removed it first.
    }
  }
}

/** The path of a fresh build's entry, building first when there is none or it is stale. */
export async function ensureCli() {
  let manifest = readManifest();
  if (!isFresh(manifest)) manifest = await buildCli({ quiet: true });
  return join(dist, manifest.entry);
}

/** Compiles the worker for production into dist/worker/main.mjs. */
export async function buildWorker() {
  const { build } = await import('esbuild');
  const started = Date.now();
  await build({
    absWorkingDir: root,
    entryPoints: { main: 'worker/main.ts' },
    bundle: true,
    packages: 'external',
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    outdir: join(dist, 'worker'),
    outExtension: { '.js': '.mjs' },
    logLevel: 'error',
  });
  console.error(
    `changectl: compiled the worker in ${Date.now() - started} ms into dist/worker/main.mjs`,
  );
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const targets = args.filter((a) => !a.startsWith('--'));
  for (const target of targets.length ? targets : ['cli']) {
    if (target === 'worker') await buildWorker();
    else if (target === 'cli') {
      if (!(args.includes('--if-stale') && isFresh(readManifest()))) await buildCli();
    } else {
      console.error(`build: unknown target '${target}' (expected cli or worker)`);
      process.exit(2);
    }
  }
}
