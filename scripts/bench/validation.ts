/**
 * How fast change requests and policies are validated: the YAML text through the zod schema
 * (what `changectl submit` and the worker's loadPolicy do), the schema alone on a parsed
 * object, and a malformed request that fails with all its errors at once. Each is timed for
 * about a second after a warm-up; the figures are per second on this machine, nothing more.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { parseChangeRequest } from '../../src/load/change';
import { changeRequestSchema } from '../../src/core/change/request';
import { ValidationError } from '../../src/core/change/validation';
import { parsePolicy } from '../../src/load/policy';
import { nextAllowedStart } from '../../src/core/policy/windows';
import { projectRoot } from '../../src/stack/tools';

const RUN_MS = 1_000;
const WARMUP_MS = 200;

function rate(work: () => void): { perSecond: number; microseconds: number } {
  const warmupEnd = performance.now() + WARMUP_MS;
  while (performance.now() < warmupEnd) work();
  let n = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < RUN_MS) {
    for (let i = 0; i < 20; i++) work();
    n += 20;
    elapsed = performance.now() - start;
  }
  return { perSecond: (n / elapsed) * 1000, microseconds: (elapsed * 1000) / n };
}

function report(label: string, work: () => void): void {
  const { perSecond, microseconds } = rate(work);
  console.log(
    `${label.padEnd(58)} ${Math.round(perSecond).toLocaleString('en').padStart(9)} /s  ` +
      `(${microseconds.toFixed(1)} µs each)`,
  );
}

const examples = join(projectRoot, 'examples');
const files = (await readdir(examples)).filter((f) => f.endsWith('.yaml')).sort();
const texts = new Map<string, string>();
for (const file of files) texts.set(file, await readFile(join(examples, file), 'utf8'));
const policyText = texts.get('policy.yaml');
if (!policyText) throw new Error('examples/policy.yaml is missing');
const requestFiles = files.filter((f) => f !== 'policy.yaml');

console.log('change request validation (YAML text → zod schema, as changectl submit does)');
for (const file of requestFiles) {
  const text = texts.get(file) ?? '';
  report(`  examples/${file}`, () => parseChangeRequest(text, file));
}
const normal = texts.get('normal-rolling.yaml') ?? '';
const parsed: unknown = parseYaml(normal);
report('  normal-rolling, schema only (already parsed)', () => changeRequestSchema.parse(parsed));

const broken = normal
  .replace('risk: medium', 'risk: extreme')
  .replace('strategy: rolling', 'strategy: canary')
  .replace('id: CHG-1234', 'id: chg 1234');
let issues = 0;
try {
  parseChangeRequest(broken);
} catch (err) {
  if (!(err instanceof ValidationError)) throw err;
  issues = err.issues.length;
}
report(`  malformed request (${issues} errors reported at once)`, () => {
  try {
    parseChangeRequest(broken);
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
  }
});

console.log('\npolicy');
report('  examples/policy.yaml (YAML text → zod schema)', () => parsePolicy(policyText));
const policy = parsePolicy(policyText);
const target = { environment: 'production', services: ['api-gateway'] };
const from = Date.parse('2026-12-01T12:00:00Z');
report('  next allowed window for api-gateway (25m needed)', () =>
  nextAllowedStart(policy, target, from, 25 * 60_000),
);
