// The project's one test runner: node's built-in runner with tsx as the TypeScript loader.
// `npm test` runs every *.test.ts under test/; `npm test -- test/unit test/x.test.ts` narrows it.
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureCli } from './build.mjs';

const root = resolve(fileURLToPath(import.meta.url), '../..');

function collect(path, out) {
  const stat = statSync(path);
  if (stat.isDirectory()) {
    for (const entry of readdirSync(path).sort()) {
      if (entry === 'node_modules' || entry.startsWith('.')) continue;
      collect(join(path, entry), out);
    }
  } else if (path.endsWith('.test.ts')) {
    out.push(relative(root, path));
  }
  return out;
}

const args = process.argv.slice(2);
const passthrough = args.filter((a) => a.startsWith('--'));
const targets = args.filter((a) => !a.startsWith('--'));
const files = (targets.length ? targets : ['test']).flatMap((t) => collect(resolve(root, t), []));
if (files.length === 0) {
  console.error(`run-tests: no *.test.ts files under ${targets.join(', ') || 'test'}`);
  process.exit(2);
}

// Tests run the real bin/changectl.js; compile it once here rather than in each test's first call.
await ensureCli();

const concurrency = process.env.TEST_CONCURRENCY ?? '2';
const child = spawn(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    `--test-concurrency=${concurrency}`,
    '--test-reporter=spec',
    ...passthrough,
    ...files,
  ],
  { cwd: root, stdio: 'inherit' },
);
child.on('exit', (code, signal) => process.exit(signal ? 1 : (code ?? 1)));
