import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import { validateWith } from '../../src/load/change';
import { ValidationError, type FieldIssue } from '../../src/core/change/validation';
import { isValidCron, isValidTimeZone } from '../../src/core/policy/cron';
import { loadPolicyFile, parsePolicy } from '../../src/load/policy';
import { policySchema, type Policy } from '../../src/core/policy/schema';
import { DELETE, withChanges } from '../helpers/documents';

function validPolicy(): Record<string, unknown> {
  return {
    apiVersion: 'changectl/v1',
    kind: 'Policy',
    metadata: { name: 'platform-default' },
    spec: {
      timeZone: 'UTC',
      windows: [
        {
          name: 'prod-maintenance',
          kind: 'allow',
          schedule: '0 2 * * 2,4',
          duration: '4h',
          timeZone: 'Europe/London',
          environments: ['production'],
        },
        {
          name: 'prod-business-hours',
          kind: 'deny',
          schedule: '0 8 * * 1-5',
          duration: '10h',
          environments: ['production', 'prod-*'],
          services: ['*'],
        },
      ],
      freezes: [
        {
          name: 'year-end',
          from: '2026-12-20T00:00:00Z',
          to: '2027-01-04T00:00:00Z',
          reason: 'Year-end change freeze',
          environments: ['production'],
        },
      ],
      people: {
        alice: { name: 'Alice Martin', teams: ['platform'] },
        bob: { teams: ['sre'] },
        carol: { name: 'Carol Diaz', teams: ['sre'], incidentCommander: true },
        dave: { teams: ['platform', 'security'] },
      },
      identity: { mode: 'signed' },
      environments: {
        production: { namespaces: ['production'], kubeContext: 'prod' },
        staging: { namespaces: ['staging'] },
      },
      standardChanges: {
        'config-tuning': {
          environments: ['staging'],
          services: ['api-gateway'],
          changes: { kinds: ['ConfigMap'] },
          maxRisk: 'low',
        },
      },
      approvals: {
        expiry: '72h',
        reminderEvery: '24h',
        environments: { production: { minApprovers: 2 }, '*': { minApprovers: 1 } },
        services: { 'api-gateway': { teams: ['sre'] }, 'auth-*': { teams: ['sre', 'security'] } },
        standardPreApproved: ['staging'],
      },
      risk: {
        businessHours: {
          timeZone: 'UTC',
          days: ['monday', 'tuesday', 'wednesday', 'thursday', 'friday'],
          start: '09:00',
          end: '17:00',
        },
        rules: [
          { name: 'production', when: { environments: ['production'] }, atLeast: 'medium' },
          { name: 'several services', when: { servicesAtLeast: 2 }, atLeast: 'high' },
          { name: 'config', when: { configOnly: true }, atLeast: 'medium' },
          { name: 'friday', when: { fridayAfternoon: true }, atLeast: 'high' },
          { name: 'night', when: { outsideBusinessHours: true }, atLeast: 'medium' },
          { name: 'canary', when: { strategies: ['canary', 'blueGreen'] }, atLeast: 'low' },
        ],
        requires: {
          high: { minApprovers: 2, teams: ['sre'], minWatch: '15m' },
          critical: { minApprovers: 3, teams: ['sre', 'platform'], minWatch: '30m' },
        },
      },
      verification: {
        onInconclusive: 'hold',
        holdTimeout: '45m',
        alertSelector: 'severity="page"',
      },
      emergency: {
        breakGlass: true,
        approvalTimeout: '15m',
        backupTimeout: '1m',
        backupRequired: true,
        watch: { watch: '5m', interval: '5s', failureLimit: 1, inconclusiveLimit: 1 },
        documentation: {
          deadline: '48h',
          reminders: ['24h', '40h'],
          escalateEvery: '12h',
          maxDays: 7,
        },
      },
    },
  };
}

function policyWith(changes: Record<string, unknown> = {}): Record<string, unknown> {
  return withChanges(validPolicy(), changes);
}

function accepted(changes: Record<string, unknown> = {}): Policy {
  return parsePolicy(JSON.stringify(policyWith(changes)));
}

function issuesOf(doc: unknown): FieldIssue[] {
  try {
    parsePolicy(JSON.stringify(doc));
  } catch (err) {
    assert.ok(err instanceof ValidationError, `expected a ValidationError, got ${String(err)}`);
    return err.issues;
  }
  assert.fail('expected the policy to be refused');
}

function assertRefused(changes: Record<string, unknown>, expected: [string, RegExp][]): void {
  const issues = issuesOf(policyWith(changes));
  assert.deepEqual(
    issues.map((i) => i.path).sort(),
    expected.map(([path]) => path).sort(),
    JSON.stringify(issues),
  );
  for (const [path, message] of expected) {
    const issue = issues.find((i) => i.path === path)!;
    assert.match(issue.message, message, `${path}: ${issue.message}`);
  }
}

const cronHint = /expected a 5-field cron schedule \(minute hour day-of-month month day-of-week\)/;
const zoneHint = /expected an IANA time zone such as 'UTC' or 'Europe\/London'/;
const scopeHint = /expected a name or a '\*' pattern such as 'production-\*'/;

describe('policy: the valid example', () => {
  it('accepts a policy using every section and keeps its values', () => {
    const policy = accepted();
    assert.equal(policy.metadata.name, 'platform-default');
    assert.deepEqual(
      policy.spec.windows.map((w) => [w.name, w.kind, w.schedule, w.duration]),
      [
        ['prod-maintenance', 'allow', '0 2 * * 2,4', '4h'],
        ['prod-business-hours', 'deny', '0 8 * * 1-5', '10h'],
      ],
    );
    assert.equal(policy.spec.people.carol?.incidentCommander, true);
    assert.equal(policy.spec.approvals.environments['*']?.minApprovers, 1);
    assert.deepEqual(policy.spec.approvals.services['auth-*'], { teams: ['sre', 'security'] });
    assert.equal(policy.spec.emergency.documentation.maxDays, 7);
  });

  it('refuses the wrong header', () => {
    assertRefused({ apiVersion: 'v1' }, [['apiVersion', /expected "changectl\/v1"/]]);
    assertRefused({ kind: 'ChangeRequest' }, [['kind', /expected "Policy"/]]);
    assertRefused({ kind: DELETE }, [['kind', /required field is missing \(expected "Policy"\)/]]);
    assertRefused({ 'metadata.name': '' }, [['metadata.name', /expected a non-empty text/]]);
  });
});

describe('policy: defaults', () => {
  const minimal = {
    apiVersion: 'changectl/v1',
    kind: 'Policy',
    metadata: { name: 'minimal' },
    spec: {
      people: { alice: {} },
      approvals: { environments: { '*': { minApprovers: 1 } } },
    },
  };

  it('fills every default of a minimal policy', () => {
    const policy = parsePolicy(JSON.stringify(minimal));
    assert.deepEqual(policy.spec, {
      timeZone: 'UTC',
      windows: [],
      freezes: [],
      people: { alice: { teams: [], incidentCommander: false, keys: [] } },
      identity: { mode: 'signed' },
      environments: {},
      standardChanges: {},
      approvals: {
        expiry: 'never',
        environments: { '*': { minApprovers: 1 } },
        services: {},
        standardPreApproved: [],
      },
      risk: {
        businessHours: {
          days: ['monday', 'tuesday', 'wednesday', 'thursday', 'friday'],
          start: '09:00',
          end: '17:00',
        },
        rules: [],
        requires: {},
      },
      verification: { onInconclusive: 'rollback', holdTimeout: '30m', alertSelector: '' },
      emergency: {
        breakGlass: false,
        approvalTimeout: '30m',
        backupTimeout: '2m',
        backupRequired: false,
        watch: { watch: '10m', interval: '10s', failureLimit: 2, inconclusiveLimit: 2 },
        documentation: {
          deadline: '24h',
          reminders: ['12h', '20h'],
          escalateEvery: '24h',
          maxDays: 14,
        },
      },
    });
  });

  it('fills the defaults inside a section that is partly given', () => {
    const policy = accepted({
      'spec.emergency': { watch: { watch: '20m' }, documentation: {} },
      'spec.risk': { businessHours: { start: '08:00' } },
    });
    assert.deepEqual(policy.spec.emergency.watch, {
      watch: '20m',
      interval: '10s',
      failureLimit: 2,
      inconclusiveLimit: 2,
    });
    assert.deepEqual(policy.spec.emergency.documentation.reminders, ['12h', '20h']);
    assert.equal(policy.spec.emergency.approvalTimeout, '30m');
    assert.deepEqual(policy.spec.risk.businessHours, {
      days: ['monday', 'tuesday', 'wednesday', 'thursday', 'friday'],
      start: '08:00',
      end: '17:00',
    });
  });

  it('gives every parse its own defaults', () => {
    const first = parsePolicy(JSON.stringify(minimal));
    first.spec.risk.businessHours.days.push('sunday');
    first.spec.risk.rules.push({ name: 'x', when: { configOnly: true }, atLeast: 'low' });
    first.spec.emergency.documentation.reminders.push('1h');
    first.spec.windows.push(accepted().spec.windows[0]!);
    const second = parsePolicy(JSON.stringify(minimal));
    assert.deepEqual(second.spec.risk.businessHours.days, [
      'monday',
      'tuesday',
      'wednesday',
      'thursday',
      'friday',
    ]);
    assert.deepEqual(second.spec.risk.rules, []);
    assert.deepEqual(second.spec.emergency.documentation.reminders, ['12h', '20h']);
    assert.deepEqual(second.spec.windows, []);
  });

  it('parsing the parsed output again gives the same value', () => {
    for (const policy of [accepted(), parsePolicy(JSON.stringify(minimal))]) {
      assert.deepEqual(validateWith(policySchema, policy, 'again'), policy);
      assert.deepEqual(parsePolicy(stringify(policy)), policy);
    }
  });
});

describe('policy: time zones', () => {
  it('accepts IANA zones', () => {
    for (const zone of ['UTC', 'Europe/London', 'America/New_York', 'Asia/Kolkata', 'Etc/GMT+5']) {
      assert.equal(isValidTimeZone(zone), true, zone);
      assert.equal(accepted({ 'spec.timeZone': zone }).spec.timeZone, zone);
    }
  });

  it('refuses what is not an IANA zone, wherever a zone is given', () => {
    for (const zone of ['Mars/Olympus', 'Europe/Londn', '+01:00', 'UTC+1', 'Z', '']) {
      assert.equal(isValidTimeZone(zone), false, zone);
    }
    for (const path of [
      'spec.timeZone',
      'spec.windows[0].timeZone',
      'spec.risk.businessHours.timeZone',
    ]) {
      assertRefused({ [path]: 'Mars/Olympus' }, [[path, zoneHint]]);
    }
  });
});

describe('policy: windows', () => {
  it('accepts 5-field cron schedules', () => {
    for (const schedule of [
      '0 2 * * 2,4',
      '*/15 * * * *',
      '0 22 * * 1-5',
      '30 1 1 * *',
      '0 2 * jan mon-fri',
      '0 2 * * THU',
      '0 2 * * 0',
      '0 2 * * 7',
    ]) {
      assert.equal(isValidCron(schedule), true, schedule);
      assert.equal(
        accepted({ 'spec.windows[0].schedule': schedule }).spec.windows[0]?.schedule,
        schedule,
      );
    }
  });

  it('refuses schedules without exactly 5 valid fields', () => {
    for (const schedule of [
      '0 0 2 * * 2',
      '0 2 * *',
      '',
      '@daily',
      'every night',
      '61 2 * * *',
      '0 24 * * *',
      '0 2 32 * *',
      '0 2 0 * *',
      '0 2 * 13 *',
      '0 2 * * 8',
      '0 2 * * 5-1',
      '*/0 2 * * *',
      '0 2 * * 1,',
    ]) {
      assert.equal(isValidCron(schedule), false, schedule);
      assertRefused({ 'spec.windows[0].schedule': schedule }, [
        ['spec.windows[0].schedule', cronHint],
      ]);
    }
  });

  it('refuses H fields, which move at random between parses', () => {
    for (const schedule of ['H 2 * * *', '0 H * * *', 'H/5 2 * * *', '0 2 * * H']) {
      assert.equal(isValidCron(schedule), false, schedule);
    }
  });

  it('requires kind allow or deny', () => {
    assertRefused({ 'spec.windows[0].kind': 'block' }, [
      ['spec.windows[0].kind', /expected one of "allow"\|"deny"/],
    ]);
  });

  it('requires a duration longer than zero', () => {
    assertRefused({ 'spec.windows[0].duration': '4 hours' }, [
      ['spec.windows[0].duration', /expected a duration such as '30s', '10m', '720h' or '1h30m'/],
    ]);
    assertRefused({ 'spec.windows[0].duration': '0s' }, [
      ['spec.windows[0].duration', /expected a duration longer than 0s/],
    ]);
    assertRefused({ 'spec.windows[0].duration': DELETE }, [
      ['spec.windows[0].duration', /required field is missing/],
    ]);
  });

  it('accepts names and * patterns as scope', () => {
    const policy = accepted({
      'spec.windows[0].environments': ['production', 'prod-*', '*', 'eu-*-1'],
      'spec.windows[0].services': ['api-gateway', '*-service'],
    });
    assert.deepEqual(policy.spec.windows[0]?.environments, ['production', 'prod-*', '*', 'eu-*-1']);
  });

  it('refuses scope patterns that are not names or * patterns, and empty scopes', () => {
    for (const pattern of ['Production', 'prod_1', '-prod', 'prod-', 'prod/eu', 'prod.eu', '']) {
      assertRefused({ 'spec.windows[1].services': ['api', pattern] }, [
        ['spec.windows[1].services[1]', scopeHint],
      ]);
    }
    assertRefused({ 'spec.windows[0].environments': [] }, [
      ['spec.windows[0].environments', /expected array to have >=1 items/],
    ]);
  });

  it('refuses two windows with one name', () => {
    assertRefused({ 'spec.windows[1].name': 'prod-maintenance' }, [
      ['spec.windows[1].name', /duplicate window name 'prod-maintenance'/],
    ]);
    assertRefused({ 'spec.windows[1].name': ' ' }, [
      ['spec.windows[1].name', /expected a non-empty text/],
    ]);
  });
});

describe('policy: freezes', () => {
  it('requires to after from', () => {
    assertRefused({ 'spec.freezes[0].to': '2026-12-19T00:00:00Z' }, [
      ['spec.freezes[0].to', /expected a time after from/],
    ]);
    assertRefused({ 'spec.freezes[0].to': '2026-12-20T00:00:00Z' }, [
      ['spec.freezes[0].to', /expected a time after from/],
    ]);
    const overnight = accepted({ 'spec.freezes[0].to': '2026-12-20T00:00:00-01:00' });
    assert.equal(overnight.spec.freezes[0]?.to, '2026-12-20T00:00:00-01:00');
  });

  it('requires zoned timestamps, reporting each bad one once', () => {
    const timestampHint = /expected an RFC 3339 timestamp with a zone/;
    assertRefused({ 'spec.freezes[0].from': '2026-12-20' }, [
      ['spec.freezes[0].from', timestampHint],
    ]);
    assertRefused({ 'spec.freezes[0].from': 'x', 'spec.freezes[0].to': '2027-02-30T00:00:00Z' }, [
      ['spec.freezes[0].from', timestampHint],
      ['spec.freezes[0].to', timestampHint],
    ]);
  });

  it('requires a reason and allows environments to be left out', () => {
    assertRefused({ 'spec.freezes[0].reason': DELETE }, [
      ['spec.freezes[0].reason', /required field is missing/],
    ]);
    assert.equal(
      accepted({ 'spec.freezes[0].environments': DELETE }).spec.freezes[0]?.environments,
      undefined,
    );
  });
});

describe('policy: people', () => {
  it('requires the directory', () => {
    assertRefused({ 'spec.people': DELETE }, [
      ['spec.people', /required field is missing \(expected record\)/],
    ]);
  });

  it('requires handles as keys, saying what a handle is', () => {
    assertRefused({ 'spec.people["alice martin"]': { teams: [] } }, [
      [
        'spec.people["alice martin"]',
        /^invalid key: expected a user handle such as 'alice', got "alice martin"$/,
      ],
    ]);
    assert.ok(
      accepted({ 'spec.people["erin.walsh@example.com"]': {} }).spec.people[
        'erin.walsh@example.com'
      ],
    );
  });

  it('refuses __proto__ as a handle instead of dropping it', () => {
    const text = JSON.stringify(validPolicy()).replace(
      '"people":{',
      '"people":{"__proto__":{"teams":["sre"]},',
    );
    assert.throws(
      () => parsePolicy(text),
      (err: unknown) =>
        err instanceof ValidationError &&
        err.issues.length === 1 &&
        err.issues[0]!.path === 'spec.people.__proto__' &&
        err.issues[0]!.message === "'__proto__' is not a field name",
    );
  });

  it('refuses a constructor key with a ValidationError, not a TypeError from inside zod', () => {
    // Found by the mutation property: {"constructor": null} made zod's plain-object check throw.
    const text = JSON.stringify(validPolicy()).replace(
      '"people":{',
      '"constructor":null,"people":{',
    );
    assert.throws(
      () => parsePolicy(text),
      (err: unknown) =>
        err instanceof ValidationError &&
        err.issues.length === 1 &&
        err.issues[0]!.path === 'spec.constructor' &&
        err.issues[0]!.message === "'constructor' is not a field name",
    );
  });

  it('refuses a constructor key anywhere in the document, as a ValidationError naming it', () => {
    // Every object of a valid policy in turn gets an own `constructor: null`.
    const objects = (node: unknown, path: string[] = []): string[][] =>
      typeof node !== 'object' || node === null
        ? []
        : Array.isArray(node)
          ? node.flatMap((child: unknown, i) => objects(child, [...path, String(i)]))
          : [
              path,
              ...Object.entries(node).flatMap(([key, child]) => objects(child, [...path, key])),
            ];
    const paths = objects(validPolicy());
    assert.ok(paths.length > 10);
    for (const path of paths) {
      const policy = validPolicy();
      const target = path.reduce<unknown>(
        (node, key) => (node as Record<string, unknown>)[key],
        policy,
      ) as Record<string, unknown>;
      Object.defineProperty(target, 'constructor', { value: null, enumerable: true });
      assert.throws(
        () => validateWith(policySchema, policy, 'policy'),
        (err: unknown) =>
          err instanceof ValidationError &&
          err.issues.some((i) => i.message === "'constructor' is not a field name"),
        `constructor under ${path.join('.') || 'the top'}`,
      );
    }
  });

  it('requires teams to be DNS labels, none twice', () => {
    assertRefused({ 'spec.people.alice.teams': ['Platform'] }, [
      ['spec.people.alice.teams[0]', /expected a lowercase DNS label/],
    ]);
    assertRefused({ 'spec.people.alice.teams': ['platform', 'platform'] }, [
      ['spec.people.alice.teams[1]', /duplicate team 'platform'/],
    ]);
  });

  it('marks incident commanders, no one by default', () => {
    const people = accepted().spec.people;
    assert.deepEqual(
      Object.entries(people)
        .filter(([, person]) => person.incidentCommander)
        .map(([handle]) => handle),
      ['carol'],
    );
    assertRefused({ 'spec.people.bob.incidentCommander': 'yes' }, [
      ['spec.people.bob.incidentCommander', /expected boolean, received string/],
    ]);
  });
});

describe('policy: approvals', () => {
  it('takes never or a duration longer than zero as expiry', () => {
    assert.equal(accepted({ 'spec.approvals.expiry': 'never' }).spec.approvals.expiry, 'never');
    assertRefused({ 'spec.approvals.expiry': '0s' }, [
      ['spec.approvals.expiry', /expected a duration longer than 0s/],
    ]);
    assertRefused({ 'spec.approvals.expiry': 'soon' }, [
      ['spec.approvals.expiry', /expected a duration such as/],
    ]);
    assertRefused({ 'spec.approvals.expiry': 72 }, [
      ['spec.approvals.expiry', /^expected 'never' or a duration such as '30s'/],
    ]);
  });

  it('requires reminders to be spaced', () => {
    assertRefused({ 'spec.approvals.reminderEvery': '0s' }, [
      ['spec.approvals.reminderEvery', /expected a duration longer than 0s/],
    ]);
  });

  it('requires per-environment rules keyed by name or pattern, with whole counts', () => {
    assertRefused({ 'spec.approvals.environments': DELETE }, [
      ['spec.approvals.environments', /required field is missing/],
    ]);
    assertRefused({ 'spec.approvals.environments.Staging': { minApprovers: 1 } }, [
      ['spec.approvals.environments.Staging', /^invalid key: expected a name or a '\*' pattern/],
    ]);
    assertRefused({ 'spec.approvals.environments.production.minApprovers': -1 }, [
      ['spec.approvals.environments.production.minApprovers', /expected number to be >=0/],
    ]);
    assertRefused({ 'spec.approvals.environments.production.minApprovers': 1.5 }, [
      ['spec.approvals.environments.production.minApprovers', /expected int/],
    ]);
    assert.equal(
      accepted({ 'spec.approvals.environments.dev': { minApprovers: 0 } }).spec.approvals
        .environments.dev?.minApprovers,
      0,
    );
  });

  it('requires service teams that exist and have members', () => {
    assertRefused({ 'spec.approvals.services.api-gateway.teams': ['sre', 'dba'] }, [
      ['spec.approvals.services.api-gateway.teams[1]', /team 'dba' has no members in spec.people/],
    ]);
    assertRefused({ 'spec.approvals.services.api-gateway.teams': [] }, [
      ['spec.approvals.services.api-gateway.teams', /expected array to have >=1 items/],
    ]);
    assertRefused({ 'spec.people.dave.teams': ['platform'] }, [
      ['spec.approvals.services.auth-*.teams[1]', /team 'security' has no members in spec.people/],
    ]);
  });

  it('checks the pre-approved environments', () => {
    assertRefused({ 'spec.approvals.standardPreApproved': ['Staging'] }, [
      ['spec.approvals.standardPreApproved[0]', scopeHint],
    ]);
  });
});

describe('policy: risk', () => {
  it('requires each rule to have at least one condition', () => {
    assertRefused({ 'spec.risk.rules[0].when': {} }, [
      ['spec.risk.rules[0].when', /expected at least one condition/],
    ]);
  });

  it('checks each condition', () => {
    assertRefused({ 'spec.risk.rules[1].when.servicesAtLeast': 1 }, [
      ['spec.risk.rules[1].when.servicesAtLeast', /expected number to be >=2/],
    ]);
    assertRefused({ 'spec.risk.rules[2].when.configOnly': false }, [
      ['spec.risk.rules[2].when.configOnly', /expected true/],
    ]);
    assertRefused({ 'spec.risk.rules[5].when.strategies': ['recreate'] }, [
      ['spec.risk.rules[5].when.strategies[0]', /expected one of "rolling"\|"blueGreen"\|"canary"/],
    ]);
    assertRefused({ 'spec.risk.rules[0].when.environments': ['Prod'] }, [
      ['spec.risk.rules[0].when.environments[0]', scopeHint],
    ]);
    assertRefused({ 'spec.risk.rules[0].when.weekend': true }, [
      ['spec.risk.rules[0].when.weekend', /^unknown field$/],
    ]);
  });

  it('requires a risk level to raise to', () => {
    assertRefused({ 'spec.risk.rules[0].atLeast': 'extreme' }, [
      ['spec.risk.rules[0].atLeast', /expected one of "low"\|"medium"\|"high"\|"critical"/],
    ]);
  });

  it('requires teams in requirements to have members', () => {
    assertRefused({ 'spec.risk.requires.high.teams': ['sre', 'dba'] }, [
      ['spec.risk.requires.high.teams[1]', /team 'dba' has no members in spec.people/],
    ]);
    assertRefused({ 'spec.risk.requires.extreme': { minApprovers: 4 } }, [
      ['spec.risk.requires.extreme', /^unknown field$/],
    ]);
    assertRefused({ 'spec.risk.requires.high.minApprovers': 0 }, [
      ['spec.risk.requires.high.minApprovers', /expected number to be >=1/],
    ]);
    assertRefused({ 'spec.risk.requires.high.minWatch': '15' }, [
      ['spec.risk.requires.high.minWatch', /expected a duration such as/],
    ]);
  });

  it('checks business hours', () => {
    assertRefused({ 'spec.risk.businessHours.start': '9:00' }, [
      ['spec.risk.businessHours.start', /expected a time of day 'HH:MM', got "9:00"/],
    ]);
    assertRefused({ 'spec.risk.businessHours.end': '24:00' }, [
      ['spec.risk.businessHours.end', /expected a time of day 'HH:MM'/],
    ]);
    assertRefused({ 'spec.risk.businessHours.end': '08:00' }, [
      ['spec.risk.businessHours.end', /expected a time of day after start/],
    ]);
    assertRefused({ 'spec.risk.businessHours.days': ['funday'] }, [
      ['spec.risk.businessHours.days[0]', /expected one of "monday"/],
    ]);
    assertRefused({ 'spec.risk.businessHours.days': [] }, [
      ['spec.risk.businessHours.days', /expected array to have >=1 items/],
    ]);
  });
});

describe('policy: verification and emergency', () => {
  it('checks what an inconclusive watch does', () => {
    assertRefused({ 'spec.verification.onInconclusive': 'ignore' }, [
      ['spec.verification.onInconclusive', /expected one of "rollback"\|"hold"/],
    ]);
    assertRefused({ 'spec.verification.holdTimeout': '0s' }, [
      ['spec.verification.holdTimeout', /expected a duration longer than 0s/],
    ]);
  });

  it('requires emergency timeouts longer than zero', () => {
    for (const field of ['approvalTimeout', 'backupTimeout']) {
      assertRefused({ [`spec.emergency.${field}`]: '0s' }, [
        [`spec.emergency.${field}`, /expected a duration longer than 0s/],
      ]);
    }
  });

  it('requires the emergency watch to poll at least 1s apart and within the watch', () => {
    assertRefused({ 'spec.emergency.watch.interval': '0s' }, [
      ['spec.emergency.watch.interval', /expected at least 1s/],
    ]);
    assertRefused({ 'spec.emergency.watch.interval': '6m' }, [
      ['spec.emergency.watch.interval', /expected an interval no longer than the watch \(5m\)/],
    ]);
    assertRefused({ 'spec.emergency.watch.watch': '0s' }, [
      ['spec.emergency.watch.watch', /expected a duration longer than 0s/],
    ]);
    assertRefused({ 'spec.emergency.watch.failureLimit': -1 }, [
      ['spec.emergency.watch.failureLimit', /expected number to be >=0/],
    ]);
  });

  it('requires documentation reminders before the deadline', () => {
    assertRefused({ 'spec.emergency.documentation.reminders': ['24h', '48h'] }, [
      [
        'spec.emergency.documentation.reminders[1]',
        /expected a reminder before the deadline \(48h\)/,
      ],
    ]);
    assertRefused({ 'spec.emergency.documentation.reminders': ['0s'] }, [
      ['spec.emergency.documentation.reminders[0]', /expected a duration longer than 0s/],
    ]);
    assertRefused({ 'spec.emergency.documentation.escalateEvery': '0s' }, [
      ['spec.emergency.documentation.escalateEvery', /expected a duration longer than 0s/],
    ]);
    assertRefused({ 'spec.emergency.documentation.maxDays': 0 }, [
      ['spec.emergency.documentation.maxDays', /expected number to be >=1/],
    ]);
  });
});

const ED25519_LINE =
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIi/IuYjGbTftl98Nmdiz8RPBss1seN+F/qODao2PRmd bob@laptop';
const ECDSA_LINE =
  'ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBImkhs9EuExgDpoSQzSfAoUkqYalrMDX17SQkknbkM9pKz541QJi8zPeg8KVMLlwBi0oV+PAmjopNVM9e1lJADM= bob@yubikey-less';

describe('policy: keys and identity', () => {
  it('keeps OpenSSH public key lines per person; no keys by default', () => {
    const policy = accepted({ 'spec.people.bob.keys': [ED25519_LINE, ECDSA_LINE] });
    assert.deepEqual(policy.spec.people.bob?.keys, [ED25519_LINE, ECDSA_LINE]);
    assert.deepEqual(policy.spec.people.alice?.keys, []);
  });

  it('refuses a bad key line, naming the field and what was wrong', () => {
    const [type, body] = ED25519_LINE.split(' ') as [string, string];
    assertRefused(
      {
        'spec.people.bob.keys': [
          'not-a-key',
          `ssh-rsa ${body}`,
          `${type} ${body.slice(0, -4)}`,
          `ecdsa-sha2-nistp256 ${body}`,
        ],
      },
      [
        ['spec.people.bob.keys[0]', /expected an OpenSSH public key line '<type> <base64>/],
        ['spec.people.bob.keys[1]', /unsupported key type 'ssh-rsa' \(expected ssh-ed25519, /],
        ['spec.people.bob.keys[2]', /ssh-ed25519 key's public point|cut short|does not decode/],
        ['spec.people.bob.keys[3]', /the line says ecdsa-sha2-nistp256 but its key is ssh-ed25519/],
      ],
    );
  });

  it('refuses one key for two people, naming both', () => {
    assertRefused(
      { 'spec.people.bob.keys': [ED25519_LINE], 'spec.people.carol.keys': [ED25519_LINE] },
      [
        [
          'spec.people.carol.keys[0]',
          /key SHA256:UEu3ed\S+ is also bob's: a key belongs to one person/,
        ],
      ],
    );
  });

  it('takes identity mode signed by default, names only when written', () => {
    assert.deepEqual(accepted().spec.identity, { mode: 'signed' });
    assert.deepEqual(accepted({ 'spec.identity': { mode: 'names' } }).spec.identity, {
      mode: 'names',
    });
    assertRefused({ 'spec.identity.mode': 'trust' }, [
      ['spec.identity.mode', /expected one of "signed"\|"names"/],
    ]);
  });
});

describe('policy: environments and standard changes', () => {
  const environments = {
    production: { namespaces: ['production', 'payments'], kubeContext: 'prod-eu' },
    staging: { namespaces: ['staging'] },
  };

  it('keeps the namespaces each environment owns and its kube context', () => {
    const policy = accepted({ 'spec.environments': environments });
    assert.deepEqual(policy.spec.environments.production, environments.production);
    assert.equal(policy.spec.environments.staging?.kubeContext, undefined);
  });

  it('refuses a namespace in two environments, naming both', () => {
    assertRefused(
      {
        'spec.environments': {
          ...environments,
          staging: { namespaces: ['staging', 'payments'] },
        },
      },
      [
        [
          'spec.environments.staging.namespaces[1]',
          /namespace 'payments' is in environments production and staging/,
        ],
      ],
    );
  });

  it('checks namespaces: DNS labels, at least one, none twice', () => {
    assertRefused({ 'spec.environments.production.namespaces': [] }, [
      ['spec.environments.production.namespaces', /expected at least one namespace/],
    ]);
    assertRefused({ 'spec.environments.production.namespaces': ['Prod', 'a', 'a'] }, [
      ['spec.environments.production.namespaces[0]', /expected a lowercase DNS label/],
      ['spec.environments.production.namespaces[2]', /duplicate namespace 'a'/],
    ]);
  });

  const template = {
    environments: ['staging', 'production'],
    services: ['auth-*'],
    changes: { kinds: ['ConfigMap'] },
    maxRisk: 'medium',
  };

  it('keeps standard-change templates', () => {
    const policy = accepted({
      'spec.environments': environments,
      'spec.standardChanges': {
        'pool-size': template,
        'image-bump': { ...template, changes: 'image' },
      },
    });
    assert.deepEqual(policy.spec.standardChanges['pool-size'], template);
    assert.equal(policy.spec.standardChanges['image-bump']?.changes, 'image');
  });

  it('refuses templates that cannot be met, field by field', () => {
    const bad = { environments: [], services: [], changes: 'everything', maxRisk: 'extreme' };
    assertRefused({ 'spec.environments': environments, 'spec.standardChanges': { bad } }, [
      ['spec.standardChanges.bad.environments', /expected at least one environment/],
      ['spec.standardChanges.bad.services', /expected at least one service/],
      [
        'spec.standardChanges.bad.changes',
        /expected 'image' or \{kinds: \[<manifest kind>, \.\.\.\]\}/,
      ],
      ['spec.standardChanges.bad.maxRisk', /expected one of "low"\|"medium"\|"high"\|"critical"/],
    ]);
    assertRefused(
      {
        'spec.environments': environments,
        'spec.standardChanges': { bad: { ...template, changes: { kinds: [] } } },
      },
      [['spec.standardChanges.bad.changes.kinds', /expected at least one manifest kind/]],
    );
  });

  it('refuses a template for an environment the policy does not declare', () => {
    assertRefused(
      {
        'spec.environments': environments,
        'spec.standardChanges': { qa: { ...template, environments: ['staging', 'qa-*'] } },
      },
      [
        [
          'spec.standardChanges.qa.environments[1]',
          /'qa-\*' matches no environment in spec.environments \(production, staging\)/,
        ],
      ],
    );
  });
});

describe('policy: unknown fields', () => {
  for (const path of [
    'owner',
    'metadata.labels',
    'spec.calendar',
    'spec.windows[0].manualSync',
    'spec.freezes[0].services',
    'spec.people.alice.email',
    'spec.identity.trustHeaders',
    'spec.environments.production.cluster',
    'spec.standardChanges.config-tuning.approvers',
    'spec.approvals.selfApproval',
    'spec.approvals.environments.production.teams',
    'spec.approvals.services.api-gateway.minApprovers',
    'spec.risk.scores',
    'spec.risk.rules[0].description',
    'spec.risk.requires.high.approvers',
    'spec.risk.businessHours.holidays',
    'spec.verification.retries',
    'spec.emergency.skipBackup',
    'spec.emergency.watch.consecutiveErrorLimit',
    'spec.emergency.documentation.template',
  ]) {
    it(`refuses ${path}`, () => {
      assertRefused({ [path]: 'x' }, [[path, /^unknown field$/]]);
    });
  }
});

describe('policy: all problems at once and documents', () => {
  it('reports each problem of a document', () => {
    const issues = issuesOf(
      policyWith({
        'spec.timeZone': 'Nowhere',
        'spec.windows[0].schedule': '* * *',
        'spec.freezes[0].to': '2020-01-01T00:00:00Z',
        'spec.risk.rules[0].when': {},
        'spec.approvals.services.api-gateway.teams': ['dba'],
      }),
    );
    assert.deepEqual(issues.map((i) => i.path).sort(), [
      'spec.approvals.services.api-gateway.teams[0]',
      'spec.freezes[0].to',
      'spec.risk.rules[0].when',
      'spec.timeZone',
      'spec.windows[0].schedule',
    ]);
  });

  it('reports YAML errors with line and column', () => {
    assert.throws(
      () => parsePolicy('apiVersion: changectl/v1\nkind: Policy\nkind: Policy\n'),
      (err: unknown) =>
        err instanceof ValidationError &&
        err.issues[0]?.path === 'line 3, column 1' &&
        err.issues[0].message === 'duplicate key',
    );
  });

  it('loads files and names the file in the error', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'changectl-policy-'));
    try {
      const path = join(dir, 'policy.yaml');
      await writeFile(path, stringify(policyWith({ 'spec.windows[0].kind': 'maybe' })));
      await assert.rejects(loadPolicyFile(path), (err: unknown) => {
        assert.ok(err instanceof ValidationError);
        assert.equal(err.document, `policy ${path}`);
        assert.deepEqual(
          err.issues.map((i) => i.path),
          ['spec.windows[0].kind'],
        );
        return true;
      });
      await writeFile(path, stringify(validPolicy()));
      assert.equal((await loadPolicyFile(path)).metadata.name, 'platform-default');
      await assert.rejects(loadPolicyFile(join(dir, 'absent.yaml')), /file not found/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
