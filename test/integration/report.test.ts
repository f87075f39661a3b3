import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { ChangeType } from '../../src/core/change/request';
import { requestDigest } from '../../src/core/identity/statement';
import type { ChangeLog, EndState } from '../../src/core/lifecycle/status';
import { testRequest } from '../helpers/fakes';
import type { ChangeReport } from '../../src/core/report/index';
import {
  changeIdKey,
  changeStateKey,
  changeTypeKey,
  environmentKey,
  servicesKey,
} from '../../src/core/search-attributes';
import { changectl, cliEnv, shown, type CliResult } from '../e2e/harness';
import {
  createDevServerEnv,
  uniqueChangeId,
  uniqueTaskQueue,
  workflowBundle,
} from '../helpers/temporal';

const workflowsPath = fileURLToPath(new URL('../fixtures/report-workflows.ts', import.meta.url));
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

function expectExit(r: CliResult, code: number): void {
  assert.equal(r.code, code, shown(r));
}

/** Midnight UTC three days ago: the seeded changes' days are base, base + 1d and base + 2d. */
const base = Math.floor((Date.now() - 3 * DAY) / DAY) * DAY;
const at = (day: number, hh: number, mm: number) =>
  new Date(base + day * DAY + hh * HOUR + mm * MIN).toISOString();

interface Seed {
  type: ChangeType;
  service: string;
  state: EndState | 'awaiting-approval';
  /** [event, day, hh, mm]; `state: x` entries are the lifecycle's transitions. */
  timeline: [string, number, number, number][];
  approvals?: [number, number, number][];
  rollbackAt?: [number, number, number];
  documentation?: { late: boolean };
}

/** The request a seeded log is of: only its id, type and service matter to the report. */
function seededRequest(id: string, seed: Seed) {
  return testRequest(id, {
    type: seed.type,
    services: [seed.service],
    ...(seed.type === 'emergency' ? { incident: 'INC-1' } : {}),
    ...(seed.type === 'standard' ? { standard: 'image-bump' } : {}),
    rollout: {
      strategy: 'rolling',
      target: { kind: 'Deployment', name: seed.service },
      image: `registry.example.com/${seed.service}:2.0.0`,
      timeout: '10m',
    },
  });
}

function changeLog(id: string, seed: Seed): ChangeLog {
  const emergency = seed.type === 'emergency';
  return {
    changeLog: {
      id,
      date: at(0, 0, 0).slice(0, 10),
      type: seed.type,
      state: seed.state as EndState,
      emergency,
      change: { description: 'seeded', reason: 'seeded', impact: 'none', result: seed.state },
      verification: { tests: '', results: '', issues: 'none' },
      risk: 'low',
      requestDigest: requestDigest(seededRequest(id, seed)),
      request: seededRequest(id, seed),
      decisions: [],
      approvals: {
        required: '1 approver',
        received: (seed.approvals ?? []).map(([d, h, m], i) => ({
          by: `approver${i}`,
          at: at(d, h, m),
        })),
        refused: [],
        refusedCount: 0,
      },
      window: { windowNames: [], bypassed: [] },
      backup: {},
      rollout: {
        strategy: 'rolling',
        deployment: seed.service,
        ...(seed.rollbackAt
          ? {
              rollback: {
                images: {},
                message: 'rolled back',
                reason: 'error rate',
                at: at(...seed.rollbackAt),
              },
            }
          : {}),
      },
      ...(emergency
        ? {
            emergencyRecord: {
              incident: 'INC-1',
              breakGlass: false,
              approvalOwed: false,
              reminders: 0,
              escalations: 0,
              undocumented: !seed.documentation,
              ...(seed.documentation
                ? {
                    documentation: {
                      rootCause: 'x',
                      changed: 'y',
                      postIncidentReview: 'https://example.com/pir',
                      by: 'carol',
                      at: at(2, 22, 0),
                      late: seed.documentation.late,
                    },
                  }
                : {}),
            },
          }
        : {}),
      timeline: seed.timeline.map(([event, d, h, m]) => ({
        at: at(d, h, m),
        actor: 'changectl',
        event,
      })),
    },
  };
}

/** Seven changes, each figure below worked out by hand from these timelines. */
const seeds: Record<string, Seed> = {
  // lead 2h15m = approval 30m + window 1h30m + active 15m; approvals answered after 20m and 30m
  completed: {
    type: 'normal',
    service: 'api-gateway',
    state: 'completed',
    approvals: [
      [0, 10, 20],
      [0, 10, 30],
    ],
    timeline: [
      ['submitted', 0, 10, 0],
      ['state: awaiting-approval', 0, 10, 0],
      ['state: scheduled', 0, 10, 30],
      ['state: preflight', 0, 12, 0],
      ['state: rolling-out', 0, 12, 1],
      ['state: watching', 0, 12, 5],
      ['state: completed', 0, 12, 15],
    ],
  },
  // breach (rolling back) 09:20 → rolled back 09:24: restored in 4m; approval after 10m
  rolledBack: {
    type: 'normal',
    service: 'api-gateway',
    state: 'rolled-back',
    approvals: [[1, 9, 10]],
    rollbackAt: [1, 9, 24],
    timeline: [
      ['submitted', 1, 9, 0],
      ['state: awaiting-approval', 1, 9, 0],
      ['state: preflight', 1, 9, 10],
      ['state: rolling-out', 1, 9, 11],
      ['state: watching', 1, 9, 13],
      ['watch failed', 1, 9, 20],
      ['rolling back', 1, 9, 20],
      ['state: rolled-back', 1, 9, 26],
    ],
  },
  // failed in pre-flight: never rolled out, so outside the failure rate; approval after 40m
  failedPreflight: {
    type: 'normal',
    service: 'auth-service',
    state: 'failed',
    approvals: [[1, 11, 40]],
    timeline: [
      ['submitted', 1, 11, 0],
      ['state: awaiting-approval', 1, 11, 0],
      ['state: preflight', 1, 11, 40],
      ['state: failed', 1, 11, 41],
    ],
  },
  // deployed 20m after submission (approval 5m, active 15m), documented on time
  emergencyOnTime: {
    type: 'emergency',
    service: 'auth-service',
    state: 'completed',
    approvals: [[2, 8, 5]],
    documentation: { late: false },
    timeline: [
      ['submitted', 2, 8, 0],
      ['state: awaiting-ic-approval', 2, 8, 0],
      ['state: preflight', 2, 8, 5],
      ['state: rolling-out', 2, 8, 6],
      ['state: watching', 2, 8, 8],
      ['state: awaiting-documentation', 2, 8, 20],
      ['state: completed', 2, 20, 0],
    ],
  },
  // deployed 40m after submission (approval 15m, active 25m), documented late
  emergencyLate: {
    type: 'emergency',
    service: 'api-gateway',
    state: 'completed',
    approvals: [[2, 13, 15]],
    documentation: { late: true },
    timeline: [
      ['submitted', 2, 13, 0],
      ['state: awaiting-ic-approval', 2, 13, 0],
      ['state: preflight', 2, 13, 15],
      ['state: rolling-out', 2, 13, 16],
      ['state: watching', 2, 13, 18],
      ['state: awaiting-documentation', 2, 13, 40],
      ['state: completed', 2, 23, 0],
    ],
  },
  rejected: {
    type: 'normal',
    service: 'auth-service',
    state: 'rejected',
    timeline: [
      ['submitted', 0, 15, 0],
      ['state: awaiting-approval', 0, 15, 0],
      ['state: rejected', 0, 16, 0],
    ],
  },
  // still waiting for approval: counted, with no figures yet
  running: { type: 'normal', service: 'api-gateway', state: 'awaiting-approval', timeline: [] },
};

describe('changectl report over seeded changes on the dev server', () => {
  let env: TestWorkflowEnvironment;
  let worker: Worker;
  let running: Promise<void>;
  const environment = `report-${Math.floor(Math.random() * 1e9)}`;
  let cli: Record<string, string>;
  const report = (...args: string[]) => changectl(['report', '--env', environment, ...args], cli);

  before(
    async () => {
      env = await createDevServerEnv();
      const taskQueue = uniqueTaskQueue('report');
      worker = await Worker.create({
        connection: env.nativeConnection,
        taskQueue,
        workflowBundle: await workflowBundle(workflowsPath),
      });
      running = worker.run();
      for (const [name, seed] of Object.entries(seeds)) {
        const id = uniqueChangeId(name.toUpperCase().replace(/[^A-Z]/g, ''));
        const handle = await env.client.workflow.start(
          seed.type === 'emergency' ? 'emergencyChange' : 'plannedChange',
          {
            taskQueue,
            workflowId: `change-${id}`,
            args: seed.state === 'awaiting-approval' ? [] : [changeLog(id, seed)],
            typedSearchAttributes: [
              { key: changeIdKey, value: id },
              { key: changeTypeKey, value: seed.type },
              { key: changeStateKey, value: seed.state },
              { key: environmentKey, value: environment },
              { key: servicesKey, value: [seed.service] },
            ],
          },
        );
        if (seed.state !== 'awaiting-approval') await handle.result();
      }
      cli = cliEnv({ TEMPORAL_ADDRESS: env.address, TEMPORAL_NAMESPACE: 'default' });
    },
    { timeout: 120_000 },
  );
  after(async () => {
    worker?.shutdown();
    await running;
    await env?.teardown();
  });

  it('gives the hand-checked figures as JSON', async () => {
    const r = await report('--since', '30d', '--format', 'json');
    expectExit(r, 0);
    const json = JSON.parse(r.stdout) as ChangeReport;
    const { overall } = json;
    assert.equal(overall.changes, 7);
    assert.deepEqual(overall.outcomes, {
      completed: 3,
      'rolled-back': 1,
      failed: 1,
      rejected: 1,
      cancelled: 0,
      running: 1,
    });
    assert.equal(overall.deploymentFrequency.deployments, 3);
    assert.ok(Math.abs(overall.deploymentFrequency.perDay - 3 / 30) < 1e-9);
    assert.equal(overall.deploymentFrequency.band, 'medium');
    assert.deepEqual(overall.leadTime, {
      changes: 3,
      medianMs: 40 * MIN,
      approvalWaitMs: 15 * MIN,
      windowWaitMs: 0,
      activeMs: 15 * MIN,
      band: 'elite',
    });
    assert.deepEqual(overall.changeFailureRate, {
      failed: 1,
      rolledOut: 4,
      rate: 0.25,
      band: 'low',
    });
    assert.deepEqual(overall.timeToRestore, {
      rollbacks: 1,
      medianMs: 4 * MIN,
      band: 'elite',
      emergencies: 2,
      emergencyMedianMs: 30 * MIN,
    });
    assert.deepEqual(overall.approvals, { responses: 6, medianMs: 17.5 * MIN });
    assert.deepEqual(overall.emergencies, {
      changes: 2,
      'on-time': 1,
      late: 1,
      missing: 0,
      pending: 0,
    });

    const gateway = json.services['api-gateway'];
    assert.equal(gateway?.changes, 4);
    assert.equal(gateway.leadTime.medianMs, (135 * MIN + 40 * MIN) / 2);
    assert.deepEqual(gateway.changeFailureRate, {
      failed: 1,
      rolledOut: 3,
      rate: 1 / 3,
      band: 'low',
    });
    assert.deepEqual(gateway.approvals, { responses: 4, medianMs: 17.5 * MIN });
    const auth = json.services['auth-service'];
    assert.equal(auth?.changes, 3);
    assert.deepEqual(auth.changeFailureRate, { failed: 0, rolledOut: 1, rate: 0, band: 'elite' });
    assert.equal(auth.timeToRestore.medianMs, null);
    assert.equal(auth.approvals.medianMs, 22.5 * MIN);

    const days = json.perDay.filter((d) => d.changes > 0).map((d) => [d.day, d.changes, d.failed]);
    assert.deepEqual(days, [
      [at(0, 0, 0).slice(0, 10), 2, 0],
      [at(1, 0, 0).slice(0, 10), 2, 2],
      [at(2, 0, 0).slice(0, 10), 2, 0],
      [new Date().toISOString().slice(0, 10), 1, 0],
    ]);
  });

  it('prints them as text with a chart of changes per day', async () => {
    const r = await report();
    expectExit(r, 0);
    assert.match(r.stdout, /^Change report: report-\d+, /);
    assert.match(
      r.stdout,
      /Overall: 7 changes \(3 completed, 1 rolled-back, 1 failed, 1 rejected, 1 running\)/,
    );
    assert.match(r.stdout, /deployment frequency\s+0\.10\/day \(3 in 30d\)\s+medium/);
    assert.match(
      r.stdout,
      /lead time \(median\)\s+40m: approval 15m, window 0s, active 15m\s+elite/,
    );
    assert.match(r.stdout, /change failure rate\s+25% \(1 of 4 rolled out\)\s+low/);
    assert.match(
      r.stdout,
      /time to restore \(median\)\s+4m breach → rolled back \(1\); emergencies 30m submitted → fixed \(2\)\s+elite/,
    );
    assert.match(r.stdout, /approval response \(median\)\s+17m30s \(6 approvals\)/);
    assert.match(
      r.stdout,
      /emergency changes\s+2: documented on time 1, late 1, missing 0, pending 0/,
    );
    assert.match(r.stdout, /Service api-gateway: 4 changes/);
    assert.match(r.stdout, /change failure rate\s+33\.3% \(1 of 3 rolled out\)\s+low/);
    assert.match(r.stdout, new RegExp(`${at(0, 0, 0).slice(0, 10)}  ██ 2\\n`));
    assert.match(r.stdout, new RegExp(`${at(1, 0, 0).slice(0, 10)}  ▒▒ 2 \\(2 failed\\)\\n`));
  });

  it('prints them as Markdown tables', async () => {
    const r = await report('--format', 'md');
    expectExit(r, 0);
    assert.match(r.stdout, /^# Change report: /);
    assert.match(r.stdout, /\| Figure \| Value \| DORA band \|/);
    assert.match(r.stdout, /\| change failure rate \| 25% \(1 of 4 rolled out\) \| low \|/);
    assert.match(
      r.stdout,
      /\| lead time \(median\) \| 40m: approval 15m, window 0s, active 15m \| elite \|/,
    );
    assert.match(r.stdout, /## Service auth-service/);
    assert.match(r.stdout, new RegExp(`\\| ${at(1, 0, 0).slice(0, 10)} \\| 2 \\| 2 \\|`));
  });

  it('narrows to a service and refuses a bad format', async () => {
    const r = await report('--service', 'auth-service', '--format', 'json');
    expectExit(r, 0);
    const json = JSON.parse(r.stdout) as ChangeReport;
    assert.equal(json.overall.changes, 3);
    assert.deepEqual(Object.keys(json.services), ['auth-service']);
    const bad = await report('--format', 'pdf');
    expectExit(bad, 2);
    assert.match(bad.stderr, /--format: expected text, md or json/);
  });
});
