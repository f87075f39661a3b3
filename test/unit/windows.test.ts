import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { CronExpressionParser } from 'cron-parser';
import fc from 'fast-check';
import { parsePolicy } from '../../src/load/policy';
import { cronFiresOnDay, isValidCron, parseCronSchedule } from '../../src/core/policy/cron';
import { policySchema, type Policy } from '../../src/core/policy/schema';
import {
  blockersAt,
  matchesScope,
  nextAllowedStart,
  upcomingWindows,
  type StartDecision,
  type WindowTarget,
} from '../../src/core/policy/windows';

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

const t = (iso: string): number => Date.parse(iso);
const iso = (ms: number): string => new Date(ms).toISOString();

interface WindowInput {
  name: string;
  kind: 'allow' | 'deny';
  schedule: string;
  duration: string;
  timeZone?: string;
  environments?: string[];
  services?: string[];
}

interface FreezeInput {
  name: string;
  from: string;
  to: string;
  reason: string;
  environments?: string[];
}

function policy(spec: {
  timeZone?: string;
  windows?: WindowInput[];
  freezes?: FreezeInput[];
}): Policy {
  return policySchema.parse({
    apiVersion: 'changectl/v1',
    kind: 'Policy',
    metadata: { name: 'test' },
    spec: { people: {}, approvals: { environments: { '*': { minApprovers: 1 } } }, ...spec },
  });
}

const production: WindowTarget = { environment: 'production', services: ['api-gateway'] };
const examplePolicy = parsePolicy(
  readFileSync(new URL('../../examples/policy.yaml', import.meta.url), 'utf8'),
);

const maintenance: WindowInput = {
  name: 'maintenance',
  kind: 'allow',
  schedule: '0 2 * * 2,4',
  duration: '4h',
};
const businessHours: WindowInput = {
  name: 'business-hours',
  kind: 'deny',
  schedule: '0 8 * * 1-5',
  duration: '10h',
};
const yearEnd: FreezeInput = {
  name: 'year-end',
  from: '2026-12-20T00:00:00Z',
  to: '2027-01-04T00:00:00Z',
  reason: 'Year-end change freeze',
  environments: ['production'],
};

function startOf(decision: StartDecision): string {
  assert.equal(decision.kind, 'wait', `expected to wait, got ${JSON.stringify(decision)}`);
  return decision.kind === 'wait' ? iso(decision.start) : '';
}

/** The open spans from `from` as ISO pairs, for comparing with instants written out. */
function spans(p: Policy, from: string, count: number, target = production): string[][] {
  return upcomingWindows(p, target, t(from), count, MINUTE).map((w) => [iso(w.start), iso(w.end)]);
}

describe('matchesScope', () => {
  it('matches everything when no patterns are given', () => {
    assert.equal(matchesScope(undefined, ['anything']), true);
    assert.equal(matchesScope(undefined, []), true);
  });

  it('matches names exactly and `*` globs anywhere in the name', () => {
    assert.equal(matchesScope(['production'], ['production']), true);
    assert.equal(matchesScope(['production'], ['production-eu']), false);
    assert.equal(matchesScope(['production-*'], ['production-eu']), true);
    assert.equal(matchesScope(['production-*'], ['staging-eu']), false);
    assert.equal(matchesScope(['*-eu'], ['staging-eu']), true);
    assert.equal(matchesScope(['pay*api'], ['payments-api']), true);
    assert.equal(matchesScope(['*'], ['whatever']), true);
  });

  it('needs one value to match one pattern', () => {
    assert.equal(matchesScope(['auth-*', 'billing'], ['api-gateway', 'billing']), true);
    assert.equal(matchesScope(['auth-*'], ['api-gateway', 'billing']), false);
    assert.equal(matchesScope(['*'], []), false);
  });
});

describe('nextAllowedStart', () => {
  it('starts now when the policy has no windows or freezes', () => {
    assert.deepEqual(
      nextAllowedStart(policy({}), production, t('2026-12-01T10:00:00Z'), 25 * MINUTE),
      {
        kind: 'now',
      },
    );
  });

  describe('allow windows', () => {
    const p = policy({ windows: [maintenance] });

    it('waits for the next opening and names what blocks now', () => {
      const decision = nextAllowedStart(p, production, t('2026-12-01T10:00:00Z'), 25 * MINUTE);
      assert.deepEqual(decision, {
        kind: 'wait',
        start: t('2026-12-03T02:00:00Z'),
        window: {
          start: t('2026-12-03T02:00:00Z'),
          end: t('2026-12-03T06:00:00Z'),
          names: ['maintenance'],
        },
        blockers: [
          {
            kind: 'outside-allow',
            name: 'maintenance',
            until: t('2026-12-03T02:00:00Z'),
            reason: "outside allow window 'maintenance' (next opens 2026-12-03T02:00:00Z)",
          },
        ],
      });
    });

    it('starts now inside an occurrence that still has room', () => {
      assert.deepEqual(nextAllowedStart(p, production, t('2026-12-01T03:00:00Z'), 25 * MINUTE), {
        kind: 'now',
        window: {
          start: t('2026-12-01T02:00:00Z'),
          end: t('2026-12-01T06:00:00Z'),
          names: ['maintenance'],
        },
      });
      // 05:35 + 25m ends exactly when the window closes.
      assert.equal(
        nextAllowedStart(p, production, t('2026-12-01T05:35:00Z'), 25 * MINUTE).kind,
        'now',
      );
    });

    it('waits for the next occurrence when the rest of this one is too short', () => {
      const decision = nextAllowedStart(p, production, t('2026-12-01T05:36:00Z'), 25 * MINUTE);
      assert.equal(startOf(decision), '2026-12-03T02:00:00.000Z');
      assert.equal(
        decision.kind === 'wait' && decision.blockers[0]?.reason,
        "allow window 'maintenance' (02:00–06:00 UTC) closes at 2026-12-01T06:00:00Z, too soon for 25m (next opens 2026-12-03T02:00:00Z)",
      );
    });

    it('waits for the next opening when `from` is just before one', () => {
      assert.equal(
        startOf(nextAllowedStart(p, production, t('2026-12-03T01:59:59.500Z'), 25 * MINUTE)),
        '2026-12-03T02:00:00.000Z',
      );
    });
  });

  describe('deny windows', () => {
    const p = policy({ windows: [businessHours] });

    it('waits for the deny to end, and reports when it ends', () => {
      const decision = nextAllowedStart(p, production, t('2026-12-01T10:00:00Z'), 25 * MINUTE);
      assert.deepEqual(decision, {
        kind: 'wait',
        start: t('2026-12-01T18:00:00Z'),
        window: { start: t('2026-12-01T18:00:00Z'), end: t('2026-12-02T08:00:00Z'), names: [] },
        blockers: [
          {
            kind: 'deny',
            name: 'business-hours',
            until: t('2026-12-01T18:00:00Z'),
            reason: "deny window 'business-hours' (08:00–18:00 UTC) until 2026-12-01T18:00:00Z",
          },
        ],
      });
    });

    it('refuses a start whose span would run into a deny', () => {
      assert.equal(
        nextAllowedStart(p, production, t('2026-12-01T07:35:00Z'), 25 * MINUTE).kind,
        'now',
      );
      assert.equal(
        startOf(nextAllowedStart(p, production, t('2026-12-01T07:36:00Z'), 25 * MINUTE)),
        '2026-12-01T18:00:00.000Z',
      );
    });

    it('starts now outside deny occurrences', () => {
      const decision = nextAllowedStart(p, production, t('2026-12-05T12:00:00Z'), 25 * MINUTE);
      assert.deepEqual(decision, {
        kind: 'now',
        window: { start: t('2026-12-05T12:00:00Z'), end: t('2026-12-07T08:00:00Z'), names: [] },
      });
    });
  });

  describe('deny inside allow', () => {
    const p = policy({
      windows: [
        { name: 'day', kind: 'allow', schedule: '0 0 * * *', duration: '12h' },
        { name: 'backup-run', kind: 'deny', schedule: '0 3 * * *', duration: '1h' },
      ],
    });

    it('starts when the deny ends if the rest of the allow still fits', () => {
      const decision = nextAllowedStart(p, production, t('2026-12-01T02:50:00Z'), 25 * MINUTE);
      assert.equal(startOf(decision), '2026-12-01T04:00:00.000Z');
      assert.deepEqual(decision.kind === 'wait' && decision.window, {
        start: t('2026-12-01T04:00:00Z'),
        end: t('2026-12-01T12:00:00Z'),
        names: ['day'],
      });
      assert.deepEqual(decision.kind === 'wait' && decision.blockers.map((b) => b.kind), ['deny']);
    });

    it('moves to the next day when the rest of the allow is too short', () => {
      assert.equal(
        startOf(nextAllowedStart(p, production, t('2026-12-01T04:30:00Z'), 8 * HOUR)),
        '2026-12-02T04:00:00.000Z',
      );
    });

    it('uses the stretch before the deny when it fits exactly', () => {
      assert.equal(
        nextAllowedStart(p, production, t('2026-12-01T00:00:00Z'), 3 * HOUR).kind,
        'now',
      );
    });
  });

  describe('overlapping and adjacent allow occurrences', () => {
    it('merges overlapping allow windows into one span', () => {
      const p = policy({
        windows: [
          { name: 'early', kind: 'allow', schedule: '0 2 * * *', duration: '2h' },
          { name: 'late', kind: 'allow', schedule: '0 3 * * *', duration: '3h' },
        ],
      });
      const decision = nextAllowedStart(p, production, t('2026-12-01T01:00:00Z'), 4 * HOUR);
      assert.equal(startOf(decision), '2026-12-01T02:00:00.000Z');
      assert.deepEqual(decision.kind === 'wait' && decision.window, {
        start: t('2026-12-01T02:00:00Z'),
        end: t('2026-12-01T06:00:00Z'),
        names: ['early', 'late'],
      });
    });

    it('merges allow occurrences that touch', () => {
      const p = policy({
        windows: [
          { name: 'first', kind: 'allow', schedule: '0 2 * * *', duration: '2h' },
          { name: 'second', kind: 'allow', schedule: '0 4 * * *', duration: '2h' },
        ],
      });
      assert.equal(
        nextAllowedStart(p, production, t('2026-12-01T03:00:00Z'), 3 * HOUR).kind,
        'now',
      );
      assert.deepEqual(blockersAt(p, production, t('2026-12-01T03:00:00Z'), 3 * HOUR), []);
    });

    it('merges the occurrences of one window that touch', () => {
      const p = policy({
        windows: [
          { name: 'every-two-hours', kind: 'allow', schedule: '0 */2 * * *', duration: '2h' },
        ],
      });
      assert.equal(
        nextAllowedStart(p, production, t('2026-12-01T01:30:00Z'), 5 * HOUR).kind,
        'now',
      );
    });

    it('does not join allow occurrences across a gap', () => {
      const p = policy({
        windows: [
          { name: 'first', kind: 'allow', schedule: '0 2 * * *', duration: '2h' },
          { name: 'second', kind: 'allow', schedule: '1 4 * * *', duration: '2h' },
        ],
      });
      assert.equal(
        nextAllowedStart(p, production, t('2026-12-01T02:00:00Z'), 2 * HOUR).kind,
        'now',
      );
      const longer = nextAllowedStart(p, production, t('2026-12-01T02:00:00Z'), 2 * HOUR + MINUTE, {
        horizonMs: 10 * DAY,
      });
      assert.equal(longer.kind, 'never');
    });
  });

  describe('scope', () => {
    const p = policy({
      windows: [
        {
          name: 'payments-nights',
          kind: 'allow',
          schedule: '0 1 * * *',
          duration: '3h',
          environments: ['production-*'],
          services: ['pay*'],
        },
        {
          name: 'eu-lunch',
          kind: 'deny',
          schedule: '0 12 * * *',
          duration: '1h',
          environments: ['*-eu'],
        },
      ],
    });
    const from = t('2026-12-01T12:30:00Z');

    it('applies a window when environment and a service match its globs', () => {
      const target = { environment: 'production-eu', services: ['api-gateway', 'payments-api'] };
      const decision = nextAllowedStart(p, target, from, 25 * MINUTE);
      assert.equal(startOf(decision), '2026-12-02T01:00:00.000Z');
      assert.deepEqual(decision.kind === 'wait' && decision.blockers.map((b) => b.name), [
        'eu-lunch',
        'payments-nights',
      ]);
    });

    it('ignores a window whose services do not match', () => {
      const target = { environment: 'production-eu', services: ['api-gateway'] };
      assert.equal(
        startOf(nextAllowedStart(p, target, from, 25 * MINUTE)),
        '2026-12-01T13:00:00.000Z',
      );
    });

    it('ignores a window whose environments do not match', () => {
      const target = { environment: 'production-us', services: ['payments-api'] };
      assert.equal(
        startOf(nextAllowedStart(p, target, from, 25 * MINUTE)),
        '2026-12-02T01:00:00.000Z',
      );
      assert.equal(
        nextAllowedStart(
          p,
          { environment: 'staging', services: ['payments-api'] },
          from,
          25 * MINUTE,
        ).kind,
        'now',
      );
    });
  });

  describe('freezes', () => {
    const p = policy({ freezes: [yearEnd] });

    it('hold planned changes until the freeze ends', () => {
      const decision = nextAllowedStart(p, production, t('2026-12-22T10:00:00Z'), 25 * MINUTE);
      assert.equal(startOf(decision), '2027-01-04T00:00:00.000Z');
      assert.deepEqual(decision.kind === 'wait' && decision.blockers, [
        {
          kind: 'freeze',
          name: 'year-end',
          until: t('2027-01-04T00:00:00Z'),
          reason: "freeze 'year-end': Year-end change freeze, until 2027-01-04T00:00:00Z",
        },
      ]);
    });

    it('hold a change whose span would run into the freeze', () => {
      assert.equal(
        startOf(nextAllowedStart(p, production, t('2026-12-19T23:50:00Z'), 25 * MINUTE)),
        '2027-01-04T00:00:00.000Z',
      );
      assert.equal(
        nextAllowedStart(p, production, t('2026-12-19T23:35:00Z'), 25 * MINUTE).kind,
        'now',
      );
    });

    it('do not hold emergency changes', () => {
      const emergency = { ...production, emergency: true };
      assert.deepEqual(nextAllowedStart(p, emergency, t('2026-12-22T10:00:00Z'), 25 * MINUTE), {
        kind: 'now',
      });
    });

    it('apply only to their environments', () => {
      assert.equal(
        nextAllowedStart(
          p,
          { environment: 'staging', services: ['api-gateway'] },
          t('2026-12-22T10:00:00Z'),
          25 * MINUTE,
        ).kind,
        'now',
      );
    });
  });

  describe('emergency targets', () => {
    it('start now whatever the windows say', () => {
      const p = policy({ windows: [maintenance, businessHours] });
      const emergency = { ...production, emergency: true };
      assert.deepEqual(nextAllowedStart(p, emergency, t('2026-12-01T10:00:00Z'), 25 * MINUTE), {
        kind: 'now',
      });
    });

    it('still wait for notBefore', () => {
      const emergency = { ...production, emergency: true };
      assert.deepEqual(
        nextAllowedStart(
          policy({ windows: [businessHours] }),
          emergency,
          t('2026-12-01T10:00:00Z'),
          MINUTE,
          {
            notBefore: t('2026-12-01T11:00:00Z'),
          },
        ),
        { kind: 'wait', start: t('2026-12-01T11:00:00Z'), blockers: [] },
      );
    });
  });

  describe('notBefore', () => {
    const p = policy({ windows: [maintenance] });
    const from = t('2026-12-01T03:00:00Z');

    it('is a lower bound on the start inside a later occurrence', () => {
      const decision = nextAllowedStart(p, production, from, 25 * MINUTE, {
        notBefore: t('2026-12-03T04:00:00Z'),
      });
      assert.equal(startOf(decision), '2026-12-03T04:00:00.000Z');
      assert.deepEqual(decision.kind === 'wait' && decision.window, {
        start: t('2026-12-03T02:00:00Z'),
        end: t('2026-12-03T06:00:00Z'),
        names: ['maintenance'],
      });
      // `from` itself is inside the window: nothing but notBefore holds the change.
      assert.deepEqual(decision.kind === 'wait' && decision.blockers, []);
    });

    it('moves to the next occurrence when notBefore leaves too little of this one', () => {
      assert.equal(
        startOf(
          nextAllowedStart(p, production, from, 25 * MINUTE, {
            notBefore: t('2026-12-03T05:50:00Z'),
          }),
        ),
        '2026-12-08T02:00:00.000Z',
      );
    });

    it('does nothing when it is already past', () => {
      assert.equal(
        nextAllowedStart(p, production, from, 25 * MINUTE, { notBefore: t('2026-11-01T00:00:00Z') })
          .kind,
        'now',
      );
    });

    it('holds a change where no window applies', () => {
      assert.deepEqual(
        nextAllowedStart(policy({}), production, from, MINUTE, { notBefore: from + HOUR }),
        {
          kind: 'wait',
          start: from + HOUR,
          blockers: [],
        },
      );
    });
  });

  describe('never', () => {
    it('gives up when no allow occurrence is long enough', () => {
      const p = policy({ windows: [maintenance] });
      const decision = nextAllowedStart(p, production, t('2026-12-01T10:00:00Z'), 5 * HOUR);
      assert.equal(decision.kind, 'never');
      assert.equal(
        decision.kind === 'never' && decision.reason,
        'no window within 400 days leaves room for 5h',
      );
      assert.deepEqual(decision.kind === 'never' && decision.blockers.map((b) => b.kind), [
        'outside-allow',
      ]);
    });

    it('gives up when denies cover everything within the horizon', () => {
      const p = policy({
        windows: [{ name: 'always', kind: 'deny', schedule: '0 0 * * *', duration: '24h' }],
      });
      const decision = nextAllowedStart(p, production, t('2026-12-01T10:00:00Z'), 25 * MINUTE, {
        horizonMs: 30 * DAY,
      });
      assert.deepEqual(decision, {
        kind: 'never',
        reason: 'no window within 30 days leaves room for 25m',
        blockers: [
          {
            kind: 'deny',
            name: 'always',
            reason: "deny window 'always' ('0 0 * * *' for 24h, UTC) does not end within 400 days",
          },
        ],
      });
    });

    it('finds an opening just inside the horizon', () => {
      const p = policy({
        windows: [{ name: 'new-year', kind: 'allow', schedule: '0 0 1 1 *', duration: '1h' }],
      });
      const from = t('2026-12-01T00:00:00Z');
      assert.equal(
        startOf(nextAllowedStart(p, production, from, MINUTE, { horizonMs: 31 * DAY })),
        '2027-01-01T00:00:00.000Z',
      );
      assert.equal(
        nextAllowedStart(p, production, from, MINUTE, { horizonMs: 30 * DAY }).kind,
        'never',
      );
    });
  });
});

describe('blockersAt', () => {
  const p = policy({ windows: [maintenance, businessHours], freezes: [yearEnd] });

  it('is empty where a change may run', () => {
    assert.deepEqual(blockersAt(p, production, t('2026-12-01T02:00:00Z'), 25 * MINUTE), []);
  });

  it('lists each freeze, deny and allow in the way', () => {
    assert.deepEqual(blockersAt(p, production, t('2026-12-21T09:00:00Z'), 25 * MINUTE), [
      {
        kind: 'freeze',
        name: 'year-end',
        until: t('2027-01-04T00:00:00Z'),
        reason: "freeze 'year-end': Year-end change freeze, until 2027-01-04T00:00:00Z",
      },
      {
        kind: 'deny',
        name: 'business-hours',
        until: t('2026-12-21T18:00:00Z'),
        reason: "deny window 'business-hours' (08:00–18:00 UTC) until 2026-12-21T18:00:00Z",
      },
      {
        kind: 'outside-allow',
        name: 'maintenance',
        until: t('2026-12-22T02:00:00Z'),
        reason: "outside allow window 'maintenance' (next opens 2026-12-22T02:00:00Z)",
      },
    ]);
  });

  it('reports freezes for emergency targets too', () => {
    const emergency = { ...production, emergency: true };
    assert.deepEqual(
      blockersAt(p, emergency, t('2026-12-22T03:00:00Z'), 25 * MINUTE).map((b) => b.kind),
      ['freeze'],
    );
  });

  it('reports a deny that starts inside the needed span', () => {
    assert.deepEqual(
      blockersAt(
        policy({ windows: [businessHours] }),
        production,
        t('2026-12-01T07:50:00Z'),
        25 * MINUTE,
      ).map((b) => [b.kind, b.name, b.until && iso(b.until)]),
      [['deny', 'business-hours', '2026-12-01T18:00:00.000Z']],
    );
  });

  it('names every applicable allow window when none has room', () => {
    const twoAllows = policy({
      windows: [
        maintenance,
        {
          name: 'weekend',
          kind: 'allow',
          schedule: '0 0 * * 6',
          duration: '48h',
          environments: ['production'],
        },
        {
          name: 'staging-only',
          kind: 'allow',
          schedule: '0 12 * * *',
          duration: '1h',
          environments: ['staging'],
        },
      ],
    });
    assert.deepEqual(
      blockersAt(twoAllows, production, t('2026-12-01T10:00:00Z'), 25 * MINUTE).map(
        (b) => b.reason,
      ),
      [
        "outside allow window 'maintenance' (next opens 2026-12-03T02:00:00Z)",
        "outside allow window 'weekend' (next opens 2026-12-05T00:00:00Z)",
      ],
    );
  });

  it('gives dates for a deny lasting more than a day, in its own zone', () => {
    const weekend = policy({
      windows: [
        {
          name: 'weekend',
          kind: 'deny',
          schedule: '0 18 * * 5',
          duration: '62h',
          timeZone: 'Europe/Berlin',
        },
      ],
    });
    assert.deepEqual(blockersAt(weekend, production, t('2026-12-05T12:00:00Z'), HOUR), [
      {
        kind: 'deny',
        name: 'weekend',
        until: t('2026-12-07T07:00:00Z'),
        reason:
          "deny window 'weekend' (2026-12-04 18:00–2026-12-07 08:00 Europe/Berlin) until 2026-12-07T07:00:00Z",
      },
    ]);
  });

  it('refuses a policy that skipped validation', () => {
    const invalid = policy({ windows: [maintenance] });
    const broken = { ...invalid, spec: { ...invalid.spec, timeZone: 'Mars/Olympus' } };
    assert.throws(
      () => blockersAt(broken, production, t('2026-12-01T02:00:00Z'), MINUTE),
      /invalid schedule, duration or time zone/,
    );
  });

  it('treats a zero span as an instant', () => {
    const deny = policy({ windows: [businessHours] });
    assert.deepEqual(blockersAt(deny, production, t('2026-12-01T07:59:59Z'), 0), []);
    assert.equal(blockersAt(deny, production, t('2026-12-01T08:00:00Z'), 0).length, 1);
    assert.deepEqual(blockersAt(deny, production, t('2026-12-01T18:00:00Z'), 0), []);
  });
});

describe('upcomingWindows', () => {
  it('lists the example policy’s maintenance windows with the latest start that fits', () => {
    const windows = upcomingWindows(
      examplePolicy,
      production,
      t('2026-11-30T00:00:00Z'),
      3,
      25 * MINUTE,
    );
    assert.deepEqual(
      windows.map((w) => [iso(w.start), iso(w.end), iso(w.latestStart), w.names.join()]),
      [
        [
          '2026-12-01T02:00:00.000Z',
          '2026-12-01T06:00:00.000Z',
          '2026-12-01T05:35:00.000Z',
          'prod-maintenance',
        ],
        [
          '2026-12-03T02:00:00.000Z',
          '2026-12-03T06:00:00.000Z',
          '2026-12-03T05:35:00.000Z',
          'prod-maintenance',
        ],
        [
          '2026-12-08T02:00:00.000Z',
          '2026-12-08T06:00:00.000Z',
          '2026-12-08T05:35:00.000Z',
          'prod-maintenance',
        ],
      ],
    );
  });

  it('skips occurrences inside the year-end freeze', () => {
    assert.deepEqual(spans(examplePolicy, '2026-12-17T00:00:00Z', 2), [
      ['2026-12-17T02:00:00.000Z', '2026-12-17T06:00:00.000Z'],
      ['2027-01-05T02:00:00.000Z', '2027-01-05T06:00:00.000Z'],
    ]);
  });

  it('includes the span open at `from` while it has room, and drops it after', () => {
    const p = policy({ windows: [maintenance] });
    const open = upcomingWindows(p, production, t('2026-12-01T05:00:00Z'), 1, 25 * MINUTE);
    assert.deepEqual(
      open.map((w) => iso(w.start)),
      ['2026-12-01T02:00:00.000Z'],
    );
    const late = upcomingWindows(p, production, t('2026-12-01T05:40:00Z'), 1, 25 * MINUTE);
    assert.deepEqual(
      late.map((w) => iso(w.start)),
      ['2026-12-03T02:00:00.000Z'],
    );
  });

  it('lists the time between denies where no allow window applies', () => {
    const p = policy({ windows: [businessHours] });
    assert.deepEqual(
      upcomingWindows(p, production, t('2026-12-04T12:00:00Z'), 2, HOUR).map((w) => [
        iso(w.start),
        iso(w.end),
        w.names,
      ]),
      [
        ['2026-12-04T18:00:00.000Z', '2026-12-07T08:00:00.000Z', []],
        ['2026-12-07T18:00:00.000Z', '2026-12-08T08:00:00.000Z', []],
      ],
    );
  });

  it('skips spans shorter than the change needs', () => {
    const p = policy({
      windows: [
        { name: 'short', kind: 'allow', schedule: '0 1 * * *', duration: '30m' },
        { name: 'long', kind: 'allow', schedule: '0 3 * * 0', duration: '2h' },
      ],
    });
    assert.deepEqual(
      upcomingWindows(p, production, t('2026-12-01T00:00:00Z'), 2, HOUR).map((w) => [
        iso(w.start),
        w.names,
      ]),
      [
        ['2026-12-06T03:00:00.000Z', ['long']],
        ['2026-12-13T03:00:00.000Z', ['long']],
      ],
    );
  });
});

describe('time zones and daylight saving time', () => {
  function allow(schedule: string, duration: string, timeZone: string): Policy {
    return policy({ windows: [{ name: 'w', kind: 'allow', schedule, duration, timeZone }] });
  }

  it('uses the policy time zone when the window has none, and the window’s over it', () => {
    const inPolicyZone = policy({
      timeZone: 'Europe/London',
      windows: [{ name: 'w', kind: 'allow', schedule: '0 2 * * *', duration: '1h' }],
    });
    assert.deepEqual(spans(inPolicyZone, '2026-07-01T00:00:00Z', 1), [
      ['2026-07-01T01:00:00.000Z', '2026-07-01T02:00:00.000Z'],
    ]);
    const overridden = policy({
      timeZone: 'Europe/London',
      windows: [
        { name: 'w', kind: 'allow', schedule: '0 2 * * *', duration: '1h', timeZone: 'Asia/Tokyo' },
      ],
    });
    assert.deepEqual(spans(overridden, '2026-07-01T00:00:00Z', 1), [
      ['2026-07-01T17:00:00.000Z', '2026-07-01T18:00:00.000Z'],
    ]);
  });

  describe('America/New_York', () => {
    it('spring forward: 02:00 does not exist on 8 March, so the window opens at 03:00 EDT for 4 real hours', () => {
      assert.deepEqual(
        spans(allow('0 2 * * *', '4h', 'America/New_York'), '2026-03-07T00:00:00Z', 3),
        [
          ['2026-03-07T07:00:00.000Z', '2026-03-07T11:00:00.000Z'], // 02:00 EST
          ['2026-03-08T07:00:00.000Z', '2026-03-08T11:00:00.000Z'], // gap → 03:00 EDT
          ['2026-03-09T06:00:00.000Z', '2026-03-09T10:00:00.000Z'], // 02:00 EDT
        ],
      );
    });

    it('spring forward: a firing inside the gap fires at the first instant after it', () => {
      assert.deepEqual(
        spans(allow('30 2 * * *', '1h', 'America/New_York'), '2026-03-07T00:00:00Z', 3),
        [
          ['2026-03-07T07:30:00.000Z', '2026-03-07T08:30:00.000Z'],
          ['2026-03-08T07:00:00.000Z', '2026-03-08T08:00:00.000Z'], // 02:30 → 03:00 EDT, not 03:30
          ['2026-03-09T06:30:00.000Z', '2026-03-09T07:30:00.000Z'],
        ],
      );
    });

    it('fall back: a firing in the repeated hour fires once, at the first 01:30', () => {
      assert.deepEqual(
        spans(allow('30 1 * * *', '1h', 'America/New_York'), '2026-10-31T00:00:00Z', 3),
        [
          ['2026-10-31T05:30:00.000Z', '2026-10-31T06:30:00.000Z'],
          ['2026-11-01T05:30:00.000Z', '2026-11-01T06:30:00.000Z'], // 01:30 EDT; none at 01:30 EST
          ['2026-11-02T06:30:00.000Z', '2026-11-02T07:30:00.000Z'],
        ],
      );
    });

    it('fall back: a 4h deny from midnight lasts 4 real hours and ends at 03:00 EST', () => {
      const p = policy({
        windows: [
          {
            name: 'night',
            kind: 'deny',
            schedule: '0 0 * * *',
            duration: '4h',
            timeZone: 'America/New_York',
          },
        ],
      });
      const decision = nextAllowedStart(p, production, t('2026-11-01T04:30:00Z'), 10 * MINUTE);
      assert.equal(startOf(decision), '2026-11-01T08:00:00.000Z');
      assert.equal(
        decision.kind === 'wait' && decision.blockers[0]?.reason,
        "deny window 'night' (00:00–03:00 America/New_York) until 2026-11-01T08:00:00Z",
      );
      assert.deepEqual(
        spans(allow('0 2 * * *', '4h', 'America/New_York'), '2026-10-31T00:00:00Z', 3),
        [
          ['2026-10-31T06:00:00.000Z', '2026-10-31T10:00:00.000Z'], // 02:00 EDT
          ['2026-11-01T07:00:00.000Z', '2026-11-01T11:00:00.000Z'], // 02:00 EST
          ['2026-11-02T07:00:00.000Z', '2026-11-02T11:00:00.000Z'],
        ],
      );
    });

    it('fall back: a half-hourly schedule does not fire during the repeated hour', () => {
      const [before, after] = upcomingWindows(
        allow('*/30 * * * *', '30m', 'America/New_York'),
        production,
        t('2026-11-01T04:00:00Z'),
        2,
        MINUTE,
      );
      assert.equal(before && iso(before.end), '2026-11-01T06:00:00.000Z'); // last 01:30 EDT ends
      assert.equal(after && iso(after.start), '2026-11-01T07:00:00.000Z'); // 02:00 EST
    });
  });

  describe('Europe/London', () => {
    it('spring forward: 01:30 does not exist on 29 March, so the window opens at 02:00 BST', () => {
      assert.deepEqual(
        spans(allow('30 1 * * *', '2h', 'Europe/London'), '2026-03-28T00:00:00Z', 3),
        [
          ['2026-03-28T01:30:00.000Z', '2026-03-28T03:30:00.000Z'], // 01:30 GMT
          ['2026-03-29T01:00:00.000Z', '2026-03-29T03:00:00.000Z'], // gap → 02:00 BST
          ['2026-03-30T00:30:00.000Z', '2026-03-30T02:30:00.000Z'], // 01:30 BST
        ],
      );
    });

    it('spring forward: a 4h window from midnight lasts 4 real hours and ends at 05:00 BST', () => {
      const p = policy({
        windows: [
          {
            name: 'night',
            kind: 'deny',
            schedule: '0 0 * * *',
            duration: '4h',
            timeZone: 'Europe/London',
          },
        ],
      });
      assert.deepEqual(
        blockersAt(p, production, t('2026-03-29T03:59:00Z'), MINUTE).map((b) => [
          b.until && iso(b.until),
          b.reason,
        ]),
        [
          [
            '2026-03-29T04:00:00.000Z',
            "deny window 'night' (00:00–05:00 Europe/London) until 2026-03-29T04:00:00Z",
          ],
        ],
      );
      assert.deepEqual(blockersAt(p, production, t('2026-03-29T04:00:00Z'), MINUTE), []);
    });

    it('fall back: 01:30 happens twice on 25 October and fires once, at the first (BST)', () => {
      assert.deepEqual(
        spans(allow('30 1 * * *', '2h', 'Europe/London'), '2026-10-24T00:00:00Z', 3),
        [
          ['2026-10-24T00:30:00.000Z', '2026-10-24T02:30:00.000Z'], // 01:30 BST
          ['2026-10-25T00:30:00.000Z', '2026-10-25T02:30:00.000Z'], // first 01:30 (BST) only
          ['2026-10-26T01:30:00.000Z', '2026-10-26T03:30:00.000Z'], // 01:30 GMT
        ],
      );
    });

    it('fall back: a window from midnight BST lasts 4 real hours into GMT', () => {
      assert.deepEqual(
        spans(allow('0 0 * * *', '4h', 'Europe/London'), '2026-10-24T12:00:00Z', 2),
        [
          ['2026-10-24T23:00:00.000Z', '2026-10-25T03:00:00.000Z'], // 00:00 BST to 03:00 GMT
          ['2026-10-26T00:00:00.000Z', '2026-10-26T04:00:00.000Z'],
        ],
      );
    });
  });
});

describe('schedules', () => {
  it('accepts the syntax of Argo CD windows and refuses the rest', () => {
    for (const valid of [
      '0 2 * * 2,4',
      '*/15 8-18 * * mon-fri',
      '0 0 1,15 * ?',
      '5/10 * * jan-mar sun',
      '0 0 * * 7',
    ]) {
      assert.equal(isValidCron(valid), true, valid);
    }
    for (const invalid of [
      '0 2 * *',
      '0 2 * * * *',
      '60 2 * * *',
      '0 24 * * *',
      '0 2 32 * *',
      '0 2 * * 8',
      'H 2 * * *',
      '0 2 L * *',
      '0 2 * * 1#2',
      '0 2 * * fri-mon',
      '*/0 * * * *',
      '0 ? * * *',
      '0 2 * * tue,',
    ]) {
      assert.equal(isValidCron(invalid), false, invalid);
    }
  });

  it('fires on the same minutes as cron-parser (in UTC, where there is no clock change)', () => {
    const from = t('2026-01-01T00:00:00Z');
    for (const schedule of [
      '0 2 * * 2,4',
      '*/20 9-17 * * mon-fri',
      '15 3 1,15 * *',
      '0 12 1 * 1',
      '0 0 */10 * *',
      '30 4 * jan,jul sun',
      '0 6 * * 7',
      '5/25 */5 * * *',
    ]) {
      const expected = CronExpressionParser.parse(schedule, {
        currentDate: new Date(from - 1),
        tz: 'UTC',
      })
        .take(10)
        .map((date) => date.toISOString());
      const p = allowOnce(schedule);
      const actual = upcomingWindows(p, production, from, 10, MINUTE).map((w) => iso(w.start));
      assert.deepEqual(actual, expected, schedule);
    }
  });

  it('fires on days as Vixie cron: either day field when both are restricted', () => {
    const schedule = parseCronSchedule('0 0 13 * 5');
    assert.ok(schedule);
    assert.equal(cronFiresOnDay(schedule, 3, 13, 2), true); // the 13th, a Tuesday
    assert.equal(cronFiresOnDay(schedule, 3, 6, 5), true); // a Friday
    assert.equal(cronFiresOnDay(schedule, 3, 7, 6), false);
    const everyOtherDay = parseCronSchedule('0 0 */2 * *');
    assert.ok(everyOtherDay);
    assert.equal(cronFiresOnDay(everyOtherDay, 3, 3, 2), true);
    assert.equal(cronFiresOnDay(everyOtherDay, 3, 4, 3), false);
  });

  function allowOnce(schedule: string): Policy {
    return policy({ windows: [{ name: 'w', kind: 'allow', schedule, duration: '1m' }] });
  }
});

describe('properties', () => {
  const zones = ['UTC', 'Europe/London', 'America/New_York', 'Australia/Lord_Howe'] as const;
  const windowArb = fc.record({
    kind: fc.constantFrom('allow' as const, 'deny' as const),
    minute: fc.constantFrom('0', '30', '45', '*/15', '*/30'),
    hour: fc.constantFrom('*', '0', '1', '2', '8', '22', '0-5', '*/6'),
    dayOfMonth: fc.constantFrom('*', '*', '*', '1', '*/7', '15'),
    dayOfWeek: fc.constantFrom('*', '1-5', '2,4', '0', '6'),
    duration: fc.constantFrom('15m', '30m', '1h', '4h', '10h', '24h', '2d'),
    timeZone: fc.constantFrom(...zones),
    environments: fc.constantFrom(undefined, ['production'], ['staging'], ['prod*']),
  });
  const freezeArb = fc.record({
    fromMinute: fc.integer({ min: 0, max: 120 * 24 * 60 }),
    lengthMinutes: fc.integer({ min: 1, max: 10 * 24 * 60 }),
  });
  const base = t('2026-01-01T00:00:00Z');
  const horizonMs = 60 * DAY;

  it('the chosen start is allowed and no earlier start is', () => {
    fc.assert(
      fc.property(
        fc.array(windowArb, { maxLength: 4 }),
        fc.array(freezeArb, { maxLength: 2 }),
        fc.integer({ min: 0, max: 365 * DAY }),
        fc.constantFrom(MINUTE, 25 * MINUTE, 2 * HOUR, 5 * HOUR),
        fc.option(fc.integer({ min: 0, max: 3 * DAY }), { nil: undefined }),
        (windows, freezes, offset, neededMs, notBeforeAfter) => {
          const p = policy({
            windows: windows.map((w, i) => ({
              name: `w${i}`,
              kind: w.kind,
              schedule: `${w.minute} ${w.hour} ${w.dayOfMonth} * ${w.dayOfWeek}`,
              duration: w.duration,
              timeZone: w.timeZone,
              ...(w.environments ? { environments: [...w.environments] } : {}),
            })),
            freezes: freezes.map((f, i) => ({
              name: `f${i}`,
              from: iso(base + f.fromMinute * MINUTE),
              to: iso(base + (f.fromMinute + f.lengthMinutes) * MINUTE),
              reason: 'test',
            })),
          });
          const from = base + offset;
          const notBefore = notBeforeAfter === undefined ? undefined : from + notBeforeAfter;
          const earliest = Math.max(from, notBefore ?? from);
          const decision = nextAllowedStart(p, production, from, neededMs, {
            notBefore,
            horizonMs,
          });
          const start =
            decision.kind === 'now'
              ? from
              : decision.kind === 'wait'
                ? decision.start
                : earliest + horizonMs;
          if (decision.kind !== 'never') {
            assert.ok(start >= earliest);
            assert.deepEqual(blockersAt(p, production, start, neededMs), [], `start ${iso(start)}`);
            if (decision.window) {
              assert.ok(decision.window.start <= start && start + neededMs <= decision.window.end);
            }
          }
          const firstMinute = Math.ceil(earliest / MINUTE) * MINUTE;
          const samples = new Set([earliest, start - MINUTE]);
          for (let i = 0; i < 24; i++) {
            samples.add(
              firstMinute + Math.floor(((start - firstMinute) * i) / 24 / MINUTE) * MINUTE,
            );
          }
          for (const sample of samples) {
            if (sample < earliest || sample >= start) continue;
            assert.notDeepEqual(
              blockersAt(p, production, sample, neededMs),
              [],
              `earlier start ${iso(sample)} is allowed`,
            );
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('speed', () => {
  it('finds an opening months away, and says never when none fits within the horizon', () => {
    const p = policy({
      windows: [
        {
          name: 'june',
          kind: 'allow',
          schedule: '0 2 1 6 *',
          duration: '4h',
          timeZone: 'Europe/London',
        },
        {
          name: 'nights',
          kind: 'allow',
          schedule: '0 22 * * 5',
          duration: '8h',
          timeZone: 'America/New_York',
          environments: ['staging'],
        },
        {
          name: 'business-hours',
          kind: 'deny',
          schedule: '0 8 * * 1-5',
          duration: '10h',
          timeZone: 'Europe/London',
        },
        {
          name: 'every-five',
          kind: 'deny',
          schedule: '*/5 * * * 6',
          duration: '10m',
          timeZone: 'America/New_York',
        },
      ],
      freezes: [yearEnd],
    });
    const from = t('2026-01-05T10:00:00Z');
    // How fast these answer is measured by `npm run bench -- validation`; tests assert results.
    for (let i = 0; i <= 20; i++) {
      const months = nextAllowedStart(p, production, from + i * HOUR, 25 * MINUTE);
      assert.equal(startOf(months), '2026-06-01T01:00:00.000Z');
      const never = nextAllowedStart(p, production, from + i * HOUR, 5 * HOUR);
      assert.equal(never.kind, 'never');
    }
  });
});
