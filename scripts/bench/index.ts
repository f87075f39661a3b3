// `npm run bench [-- name ...]`: prints figures worth knowing, never asserts them. Each
// benchmark runs in its own process (each installs its own Temporal runtime and server).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { projectRoot } from '../../src/stack/tools';

const benchmarks = {
  validation: 'change requests and policies validated per second',
  'change-history': 'history events of a whole planned change (time-skipping server)',
  'watch-history': 'history events of 1 h and 24 h watches (time-skipping server)',
  'cli-startup': 'changectl --help, status and list against the temporal CLI (dev server)',
  parked: '1,000 and 5,000 changes parked for approval on one worker (dev server)',
  throughput: 'whole planned changes per second against bare workflows of as many activities',
} as const;
type Name = keyof typeof benchmarks;

function isName(name: string): name is Name {
  return Object.hasOwn(benchmarks, name);
}

function run(name: Name): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(projectRoot, 'scripts', 'bench', `${name}.ts`)],
      { cwd: projectRoot, stdio: 'inherit' },
    );
    child.once('error', reject);
    child.once('close', (code, signal) => resolve(signal ? 1 : (code ?? 1)));
  });
}

const asked = process.argv.slice(2);
const unknown = asked.filter((name) => !isName(name));
if (unknown.length > 0) {
  console.error(
    `unknown benchmark ${unknown.join(', ')}; known: ${Object.keys(benchmarks).join(', ')}`,
  );
  process.exit(2);
}
const names = asked.length > 0 ? asked.filter(isName) : (Object.keys(benchmarks) as Name[]);
let failed = 0;
for (const name of names) {
  console.log(`\n== ${name}: ${benchmarks[name]}\n`);
  const started = Date.now();
  const code = await run(name);
  if (code !== 0) failed += 1;
  console.log(
    `\n(${name} ${code === 0 ? 'done' : `exited ${code}`} in ${((Date.now() - started) / 1000).toFixed(1)} s)`,
  );
}
process.exit(failed > 0 ? 1 : 0);
