import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parse, stringify } from 'yaml';
import type { z } from 'zod';
import { formatDuration } from '../../src/core/change/duration';
import { parseChangeRequest, parseWith, validateWith } from '../../src/load/change';
import { changeRequestSchema } from '../../src/core/change/request';
import { ValidationError } from '../../src/core/change/validation';
import { parsePolicy } from '../../src/load/policy';
import { policySchema } from '../../src/core/policy/schema';
import { isRecord } from '../../src/core/records';

const RUNS = 2_000;

function example(file: string): string {
  return readFileSync(new URL(`../../examples/${file}`, import.meta.url), 'utf8');
}

const requestTexts = [
  'normal-rolling.yaml',
  'standard-config.yaml',
  'canary.yaml',
  'blue-green.yaml',
  'emergency.yaml',
].map(example);
const policyText = example('policy.yaml');

// ---------------------------------------------------------------- mutations of valid documents

type Path = (string | number)[];

function pathsOf(node: unknown, at: Path = [], out: Path[] = []): Path[] {
  out.push(at);
  if (Array.isArray(node)) node.forEach((child, i) => pathsOf(child, [...at, i], out));
  else if (isRecord(node)) {
    for (const [key, child] of Object.entries(node)) pathsOf(child, [...at, key], out);
  }
  return out;
}

function getAt(root: unknown, path: Path): unknown {
  let node = root;
  for (const key of path) node = (node as Record<string | number, unknown>)[key];
  return node;
}

/** Returns the new root: replacing the root itself replaces the whole document. */
function setAt(root: unknown, path: Path, value: unknown): unknown {
  if (path.length === 0) return value;
  const parent = getAt(root, path.slice(0, -1)) as Record<string | number, unknown>;
  parent[path[path.length - 1]!] = value;
  return root;
}

function deleteAt(root: unknown, path: Path): unknown {
  if (path.length === 0) return null;
  const parent = getAt(root, path.slice(0, -1));
  const key = path[path.length - 1]!;
  if (Array.isArray(parent)) parent.splice(key as number, 1);
  else delete (parent as Record<string, unknown>)[key as string];
  return root;
}

/** The same content as another JSON type: what a user gets by quoting or unquoting in YAML. */
function retyped(value: unknown): unknown {
  if (typeof value === 'string') return Number.isNaN(Number(value)) ? [value] : Number(value);
  if (typeof value === 'number') return String(value);
  if (typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return Object.fromEntries(value.map((v, i) => [String(i), v]));
  if (isRecord(value)) return Object.values(value);
  return {};
}

/** Values that sit on the edges of the schema's rules. */
const edgeValues: unknown[] = [
  null,
  '',
  ' ',
  0,
  -1,
  1,
  1.5,
  101,
  2 ** 53,
  1e308,
  true,
  false,
  [],
  {},
  [{}],
  '0s',
  '500ms',
  '1s',
  '16m',
  `${'9'.repeat(40)}h`,
  'canary',
  'blueGreen',
  'rolling',
  'emergency',
  'standard',
  'critical',
  'INC-1',
  'CHG-1',
  'api-gateway',
  'auth-service',
  'never',
  '> baseline',
  '> 1e999',
  '2026-02-30T00:00:00Z',
  '2026-12-01T02:00:00',
  '0 2 * * 2,4',
  'H 2 * * *',
  'Mars/Olympus',
  '__proto__',
  'constructor',
  { setWeight: 10 },
  { pause: '1m' },
  { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } },
  'x'.repeat(300),
];

type Mutation =
  | { op: 'delete' | 'retype' | 'duplicate'; pick: number }
  | { op: 'replace'; pick: number; value: unknown }
  | { op: 'edge'; pick: number; edge: number }
  | { op: 'transplant'; pick: number; from: number }
  | { op: 'addKey'; pick: number; key: string; value: unknown };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constantFrom('delete', 'retype', 'duplicate'), pick: fc.nat() }),
  fc.record({ op: fc.constant('replace'), pick: fc.nat(), value: fc.jsonValue({ maxDepth: 3 }) }),
  fc.record({ op: fc.constant('edge'), pick: fc.nat(), edge: fc.nat(edgeValues.length - 1) }),
  fc.record({ op: fc.constant('transplant'), pick: fc.nat(), from: fc.nat() }),
  fc.record({
    op: fc.constant('addKey'),
    pick: fc.nat(),
    key: fc.oneof(fc.string(), fc.constantFrom('__proto__', 'constructor', 'spec', 'name', '<<')),
    value: fc.jsonValue({ maxDepth: 2 }),
  }),
);

function mutate(root: unknown, mutation: Mutation): unknown {
  const paths = pathsOf(root);
  const path = paths[mutation.pick % paths.length]!;
  switch (mutation.op) {
    case 'delete':
      return deleteAt(root, path);
    case 'retype':
      return setAt(root, path, retyped(getAt(root, path)));
    case 'duplicate': {
      const node = getAt(root, path);
      if (Array.isArray(node) && node.length > 0) node.push(structuredClone(node[0]));
      return root;
    }
    case 'replace':
      return setAt(root, path, structuredClone(mutation.value));
    case 'edge':
      return setAt(root, path, structuredClone(edgeValues[mutation.edge]));
    case 'transplant': {
      const from = paths[mutation.from % paths.length]!;
      return setAt(root, path, structuredClone(getAt(root, from)));
    }
    case 'addKey': {
      const node = getAt(root, path);
      if (isRecord(node)) {
        // defineProperty, so that a key named __proto__ is a key and not the prototype.
        Object.defineProperty(node, mutation.key, {
          value: structuredClone(mutation.value),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return root;
    }
  }
}

type Encoding = 'object' | 'yaml' | 'json';

function validateEncoded<S extends z.ZodType>(schema: S, doc: unknown, encoding: Encoding) {
  if (encoding === 'object') return validateWith(schema, doc, 'mutant');
  return parseWith(schema, encoding === 'yaml' ? stringify(doc) : JSON.stringify(doc), 'mutant');
}

/** Either a document that validates to itself, or a ValidationError that names its fields. */
function assertSchemaOutcome<S extends z.ZodType>(
  schema: S,
  run: () => z.output<S>,
): 'valid' | 'invalid' {
  let value: z.output<S>;
  try {
    value = run();
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    assert.ok(err.issues.length >= 1, 'a ValidationError without issues');
    for (const issue of err.issues) {
      assert.equal(typeof issue.path, 'string');
      assert.ok(issue.path.length > 0, `empty path in ${JSON.stringify(err.issues)}`);
      assert.equal(typeof issue.message, 'string');
      assert.ok(issue.message.length > 0, `empty message at ${issue.path}`);
    }
    return 'invalid';
  }
  assert.deepEqual(validateWith(schema, value, 'again'), value);
  return 'valid';
}

function mutationProperty<S extends z.ZodType>(schema: S, texts: string[]) {
  const outcomes = { valid: 0, invalid: 0 };
  const documents = texts.map((text) => parse(text) as unknown);
  const property = fc.property(
    fc.nat(texts.length - 1),
    fc.array(mutationArb, { minLength: 1, maxLength: 4 }),
    // Text encodings cost a YAML parse each; objects let more runs reach the schema.
    fc.constantFrom<Encoding>('object', 'object', 'object', 'yaml', 'json'),
    (which, mutations, encoding) => {
      let doc = structuredClone(documents[which]);
      for (const mutation of mutations) doc = mutate(doc, mutation);
      outcomes[assertSchemaOutcome(schema, () => validateEncoded(schema, doc, encoding))] += 1;
    },
  );
  return { property, outcomes };
}

/** Edits of the YAML text itself: what a hurried hand does to a file. */
const textEditArb = fc.record({
  at: fc.nat(),
  remove: fc.nat(6),
  insert: fc.oneof(
    fc.constantFrom(
      ':',
      ': ',
      '-',
      '- ',
      '[',
      ']',
      '{',
      '}',
      ',',
      '"',
      "'",
      '#',
      '|',
      '>',
      '?',
      '\t',
      '\n',
      '  ',
      '&a ',
      '*a',
      '<<: *a\n',
      '!!binary ',
      '!!str ',
      '!!int ',
      '!custom ',
      '---\n',
      '...\n',
      '%YAML 1.2\n',
      '\uFEFF',
      '\u0000',
    ),
    fc.string({ maxLength: 5 }),
  ),
});

function editText(text: string, edits: { at: number; remove: number; insert: string }[]): string {
  let out = text;
  for (const edit of edits) {
    const at = edit.at % (out.length + 1);
    out = out.slice(0, at) + edit.insert + out.slice(at + edit.remove);
  }
  return out;
}

describe('property: mutated change requests', () => {
  it('give a valid request or a ValidationError naming fields, never another exception', () => {
    const { property, outcomes } = mutationProperty(changeRequestSchema, requestTexts);
    fc.assert(property, { numRuns: RUNS });
    // Both outcomes occur, so the mutations reach past the first check.
    assert.ok(outcomes.valid > 0 && outcomes.invalid > 0, JSON.stringify(outcomes));
  });
});

describe('property: mutated policies', () => {
  it('give a valid policy or a ValidationError naming fields, never another exception', () => {
    const { property, outcomes } = mutationProperty(policySchema, [policyText]);
    fc.assert(property, { numRuns: RUNS });
    assert.ok(outcomes.valid > 0 && outcomes.invalid > 0, JSON.stringify(outcomes));
  });
});

describe('property: edited example files', () => {
  it('give a valid document or a ValidationError, never another exception', () => {
    const examples = [
      ...requestTexts.map((text) => ({ text, schema: 'request' as const })),
      { text: policyText, schema: 'policy' as const },
    ];
    fc.assert(
      fc.property(
        fc.nat(examples.length - 1),
        fc.array(textEditArb, { minLength: 1, maxLength: 3 }),
        (which, edits) => {
          const { text, schema } = examples[which]!;
          const edited = editText(text, edits);
          if (schema === 'policy') assertSchemaOutcome(policySchema, () => parsePolicy(edited));
          else assertSchemaOutcome(changeRequestSchema, () => parseChangeRequest(edited));
        },
      ),
      { numRuns: RUNS },
    );
  });
});

// ---------------------------------------------------------------- generated valid documents

const dnsLabelArb = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,14}[a-z0-9])?$/);
const handleArb = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,12}$/);
// Built once: stringMatching takes milliseconds to build, so not inside chain().
const changeIdArb = fc.stringMatching(/^[A-Z][A-Z0-9]{0,5}-[0-9]{1,6}$/);
const incidentArb = fc.stringMatching(/^[A-Za-z][A-Za-z0-9]{0,4}-[0-9]{1,5}$/);
/** Any text, control characters and astral planes included, that is not blank. */
const textArb = fc
  .string({ unit: 'grapheme', minLength: 1, maxLength: 16 })
  .filter((s) => s.trim().length > 0);
const msArb = (min: number, max: number) => fc.integer({ min, max });
const durationArb = (min = 1, max = 40 * 86_400_000) => msArb(min, max).map(formatDuration);
const timestampArb = fc
  .tuple(
    fc.date({
      min: new Date('2000-01-01T00:00:00Z'),
      max: new Date('2099-12-31T00:00:00Z'),
      noInvalidDate: true,
    }),
    fc.constantFrom('Z', '+00:00', '+05:30', '-08:00'),
    fc.boolean(),
  )
  .map(([date, zone, millis]) => {
    const iso = date.toISOString();
    return (millis ? iso : iso.replace(/\.\d{3}/, '')).replace('Z', zone);
  });
const numberArb = fc.double({ min: -1e6, max: 1e6, noNaN: true, noDefaultInfinity: true });
const operatorArb = fc.constantFrom('>', '>=', '<', '<=', '==', '!=');
const failWhenArb = fc.oneof(
  fc.tuple(operatorArb, numberArb).map(([op, n]) => `${op} ${n}`),
  fc
    .tuple(operatorArb, fc.constantFrom('*', '+'), numberArb)
    .map(([op, c, n]) => `${op} baseline ${c} ${n}`),
  operatorArb.map((op) => `${op} baseline`),
);
const imageArb = fc
  .tuple(
    fc.constantFrom('', 'registry.example.com/', 'localhost:5000/', 'ghcr.io/team/'),
    fc.stringMatching(/^[a-z0-9]+(-[a-z0-9]+){0,2}$/),
    fc.option(fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}$/), { nil: undefined }),
    fc.option(
      fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 64, maxLength: 64 }),
      { nil: undefined },
    ),
  )
  .map(
    ([registry, path, tag, digest]) =>
      `${registry}${path}${tag ? `:${tag}` : ''}${digest ? `@sha256:${digest}` : ''}`,
  );
const manifestArb = fc.record({
  apiVersion: fc.constantFrom('v1', 'apps/v1'),
  kind: fc.constantFrom('ConfigMap', 'Deployment', 'Service'),
  metadata: fc.record({ name: fc.stringMatching(/^[a-z0-9]([-a-z0-9.]{0,20}[a-z0-9])?$/) }),
  data: fc.dictionary(
    // The loader refuses __proto__, which stringMatching is fond of.
    fc
      .stringMatching(/^[A-Za-z0-9_.-]{1,12}$/)
      .filter((key) => !['__proto__', 'constructor', 'prototype'].includes(key)),
    fc.string({ maxLength: 12 }),
    { noNullPrototype: true, maxKeys: 3 },
  ),
});

const verificationArb = fc.tuple(msArb(1_000, 86_400_000), fc.nat(1_000)).chain(([watch, share]) =>
  fc.record(
    {
      watch: fc.constant(formatDuration(watch)),
      interval: fc.constant(formatDuration(1_000 + Math.floor(((watch - 1_000) * share) / 1_000))),
      failureLimit: fc.integer({ min: 1, max: 10 }),
      inconclusiveLimit: fc.integer({ min: 1, max: 10 }),
      consecutiveErrorLimit: fc.integer({ min: 1, max: 10 }),
      metrics: fc.uniqueArray(
        fc.record({ name: dnsLabelArb, query: textArb, failWhen: failWhenArb }),
        { minLength: 1, maxLength: 3, selector: (m) => m.name },
      ),
    },
    { requiredKeys: ['watch', 'interval', 'metrics'] },
  ),
);

const canaryStepsArb = fc
  .tuple(
    fc.integer({ min: 0, max: 100 }),
    fc.array(
      fc.oneof(
        fc.integer({ min: 0, max: 100 }).map((setWeight) => ({ setWeight })),
        durationArb(0, 3_600_000).map((pause) => ({ pause })),
      ),
      { maxLength: 5 },
    ),
  )
  .map(([first, rest]) => [{ setWeight: first }, ...rest]);

const changeRequestArb = fc
  .record({
    services: fc.uniqueArray(dnsLabelArb, { minLength: 1, maxLength: 4 }),
    targetPick: fc.nat(),
    strategy: fc.constantFrom('rolling', 'blueGreen', 'canary'),
    type: fc.constantFrom('standard', 'normal', 'emergency'),
  })
  .chain(({ services, targetPick, strategy, type }) => {
    const target = services[targetPick % services.length]!;
    const rollout = fc.record(
      {
        strategy: fc.constant(strategy),
        target: fc.record(
          { kind: fc.constant('Deployment'), name: fc.constant(target), container: dnsLabelArb },
          { requiredKeys: ['kind', 'name'] },
        ),
        timeout: durationArb(),
        ...(strategy === 'canary' ? { steps: canaryStepsArb } : {}),
        ...(strategy === 'blueGreen' ? { service: fc.constant(target) } : {}),
      },
      {
        requiredKeys: ['strategy', 'target', ...(strategy === 'canary' ? ['steps' as const] : [])],
      },
    );
    const artifact = fc.oneof(
      imageArb.map((image) => ({ image })),
      fc.array(manifestArb, { minLength: 1, maxLength: 2 }).map((manifests) => ({ manifests })),
    );
    const emergency = type === 'emergency';
    return fc.record(
      {
        apiVersion: fc.constant('changectl/v1'),
        kind: fc.constant('ChangeRequest'),
        metadata: fc.record({
          id: changeIdArb,
          title: textArb,
          requestedBy: handleArb,
        }),
        spec: fc.record(
          {
            type: fc.constant(type),
            environment: dnsLabelArb,
            namespace: dnsLabelArb,
            services: fc.constant(services),
            description: textArb,
            reason: textArb,
            impact: textArb,
            risk: fc.constantFrom('low', 'medium', 'high', 'critical'),
            incident: incidentArb,
            ...(emergency ? { breakGlass: fc.boolean() } : {}),
            window: fc.record({ notBefore: timestampArb }, { requiredKeys: [] }),
            backup: fc.record({
              velero: fc.record(
                {
                  includeNamespaces: fc.uniqueArray(dnsLabelArb, { minLength: 1, maxLength: 3 }),
                  snapshotVolumes: fc.boolean(),
                  ttl: durationArb(),
                },
                { requiredKeys: ['includeNamespaces'] },
              ),
            }),
            rollout: fc.tuple(rollout, artifact).map(([r, a]) => ({ ...r, ...a })),
            verification: verificationArb,
            rollback: fc.record({ restoreBackup: fc.boolean() }, { requiredKeys: [] }),
          },
          {
            requiredKeys: [
              'type',
              'environment',
              'namespace',
              'services',
              'description',
              'impact',
              'risk',
              'rollout',
              'verification',
              ...(emergency ? ['incident' as const] : []),
            ],
          },
        ),
      },
      { requiredKeys: ['apiVersion', 'kind', 'metadata', 'spec'] },
    );
  });

describe('property: generated change requests', () => {
  it('are accepted, read the same from their YAML, and validate to themselves', () => {
    fc.assert(
      fc.property(changeRequestArb, (generated) => {
        const request = validateWith(changeRequestSchema, generated, 'generated');
        assert.deepEqual(parseChangeRequest(stringify(generated)), request);
        assert.deepEqual(validateWith(changeRequestSchema, request, 'again'), request);
      }),
      { numRuns: RUNS },
    );
  });
});

const scopeArb = fc.stringMatching(/^[a-z0-9*]([-a-z0-9*]{0,10}[a-z0-9*])?$/);
const zoneArb = fc.constantFrom(
  'UTC',
  'Europe/London',
  'America/New_York',
  'Asia/Kolkata',
  'Australia/Lord_Howe',
  'Etc/GMT+5',
);
const cronFieldArb = (min: number, max: number) =>
  fc.oneof(
    fc.constant('*'),
    fc.integer({ min, max }).map(String),
    fc
      .tuple(fc.integer({ min, max }), fc.integer({ min, max }))
      .map(([a, b]) => `${Math.min(a, b)}-${Math.max(a, b)}`),
    fc.integer({ min: 1, max }).map((step) => `*/${step}`),
    fc
      .uniqueArray(fc.integer({ min, max }), { minLength: 1, maxLength: 3 })
      .map((l) => l.join(',')),
  );
const cronArb = fc
  .tuple(
    cronFieldArb(0, 59),
    cronFieldArb(0, 23),
    cronFieldArb(1, 31),
    cronFieldArb(1, 12),
    cronFieldArb(0, 7),
  )
  .map((fields) => fields.join(' '));
const weekdayArb = fc.constantFrom(
  'monday',
  'tuesday',
  'wednesday',
  'thursday',
  'friday',
  'saturday',
  'sunday',
);
const clockOf = (minutes: number) =>
  `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;

const policyArb = fc
  .dictionary(
    handleArb,
    fc.record(
      {
        name: textArb,
        teams: fc.uniqueArray(fc.constantFrom('sre', 'platform', 'security', 'payments'), {
          maxLength: 2,
        }),
        incidentCommander: fc.boolean(),
      },
      { requiredKeys: [] },
    ),
    { minKeys: 1, maxKeys: 3 },
  )
  .chain((people) => {
    const staffed = [...new Set(Object.values(people).flatMap((p) => p.teams ?? []))];
    const teamsArb = (minLength: number) =>
      staffed.length === 0
        ? fc.constant([])
        : fc.subarray(staffed, { minLength: Math.min(minLength, staffed.length) });
    const requirement = fc.record(
      {
        minApprovers: fc.integer({ min: 1, max: 5 }),
        teams: teamsArb(0),
        minWatch: durationArb(0),
      },
      { requiredKeys: [] },
    );
    const condition = fc
      .record(
        {
          environments: fc.array(scopeArb, { minLength: 1, maxLength: 2 }),
          servicesAtLeast: fc.integer({ min: 2, max: 10 }),
          configOnly: fc.constant(true),
          fridayAfternoon: fc.constant(true),
          outsideBusinessHours: fc.constant(true),
          strategies: fc.uniqueArray(fc.constantFrom('rolling', 'blueGreen', 'canary'), {
            minLength: 1,
          }),
        },
        { requiredKeys: [] },
      )
      .filter((c) => Object.keys(c).length > 0);
    const emergencyWatch = fc
      .tuple(msArb(1_000, 3_600_000), fc.nat(1_000))
      .map(([watch, share]) => ({
        watch: formatDuration(watch),
        interval: formatDuration(1_000 + Math.floor(((watch - 1_000) * share) / 1_000)),
      }));
    const documentation = msArb(2, 7 * 86_400_000).chain((deadline) =>
      fc.record({
        deadline: fc.constant(formatDuration(deadline)),
        reminders: fc.array(durationArb(1, deadline - 1), { maxLength: 2 }),
        escalateEvery: durationArb(),
        maxDays: fc.integer({ min: 1, max: 30 }),
      }),
    );
    const businessHours = fc
      .tuple(
        fc.integer({ min: 0, max: 1_438 }),
        fc.nat(),
        zoneArb,
        fc.uniqueArray(weekdayArb, { minLength: 1 }),
      )
      .map(([start, span, timeZone, days]) => ({
        timeZone,
        days,
        start: clockOf(start),
        end: clockOf(start + 1 + (span % (1_439 - start))),
      }));
    return fc.record(
      {
        apiVersion: fc.constant('changectl/v1'),
        kind: fc.constant('Policy'),
        metadata: fc.record({ name: textArb }),
        spec: fc.record(
          {
            timeZone: zoneArb,
            windows: fc.uniqueArray(
              fc.record(
                {
                  name: textArb,
                  kind: fc.constantFrom('allow', 'deny'),
                  schedule: cronArb,
                  duration: durationArb(),
                  timeZone: zoneArb,
                  environments: fc.array(scopeArb, { minLength: 1, maxLength: 2 }),
                  services: fc.array(scopeArb, { minLength: 1, maxLength: 2 }),
                },
                { requiredKeys: ['name', 'kind', 'schedule', 'duration'] },
              ),
              { maxLength: 2, selector: (w) => w.name },
            ),
            freezes: fc.array(
              fc
                .tuple(timestampArb, msArb(1_000, 90 * 86_400_000), textArb, textArb)
                .map(([from, length, name, reason]) => ({
                  name,
                  from,
                  to: new Date(Date.parse(from) + length).toISOString(),
                  reason,
                })),
              { maxLength: 2 },
            ),
            people: fc.constant(people),
            approvals: fc.record(
              {
                expiry: fc.oneof(fc.constant('never'), durationArb()),
                reminderEvery: durationArb(),
                environments: fc.dictionary(
                  scopeArb,
                  fc.record({ minApprovers: fc.integer({ min: 0, max: 5 }) }),
                  { maxKeys: 3 },
                ),
                services:
                  staffed.length === 0
                    ? fc.constant({})
                    : fc.dictionary(scopeArb, fc.record({ teams: teamsArb(1) }), { maxKeys: 3 }),
                standardPreApproved: fc.array(scopeArb, { maxLength: 2 }),
              },
              { requiredKeys: ['environments'] },
            ),
            risk: fc.record(
              {
                businessHours,
                rules: fc.array(
                  fc.record({
                    name: textArb,
                    when: condition,
                    atLeast: fc.constantFrom('low', 'medium', 'high', 'critical'),
                  }),
                  { maxLength: 2 },
                ),
                requires: fc.record(
                  {
                    low: requirement,
                    medium: requirement,
                    high: requirement,
                    critical: requirement,
                  },
                  { requiredKeys: [] },
                ),
              },
              { requiredKeys: [] },
            ),
            verification: fc.record(
              {
                onInconclusive: fc.constantFrom('rollback', 'hold'),
                holdTimeout: durationArb(),
                alertSelector: fc.string({ maxLength: 20 }),
              },
              { requiredKeys: [] },
            ),
            emergency: fc.record(
              {
                breakGlass: fc.boolean(),
                approvalTimeout: durationArb(),
                backupTimeout: durationArb(),
                backupRequired: fc.boolean(),
                watch: emergencyWatch,
                documentation,
              },
              { requiredKeys: [] },
            ),
          },
          { requiredKeys: ['people', 'approvals'] },
        ),
      },
      { requiredKeys: ['apiVersion', 'kind', 'metadata', 'spec'] },
    );
  });

describe('property: generated policies', () => {
  it('are accepted, read the same from their YAML, and validate to themselves', () => {
    fc.assert(
      fc.property(policyArb, (generated) => {
        const policy = validateWith(policySchema, generated, 'generated');
        assert.deepEqual(parsePolicy(stringify(generated)), policy);
        assert.deepEqual(validateWith(policySchema, policy, 'again'), policy);
      }),
      { numRuns: RUNS },
    );
  });
});
