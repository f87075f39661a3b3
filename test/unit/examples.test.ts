import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { parseComparison } from '../../src/core/change/comparison';
import { parseDuration } from '../../src/core/change/duration';
import { loadChangeRequestFile } from '../../src/load/change';
import { changeWorkflowId, isPlanned, type ChangeRequest } from '../../src/core/change/request';
import { loadPolicyFile } from '../../src/load/policy';
import type { Policy } from '../../src/core/policy/schema';

const examplesDir = fileURLToPath(new URL('../../examples/', import.meta.url));
const examplePath = (file: string) => `${examplesDir}${file}`;

/** What each example is for; a new example must be added here to be checked. */
const changeExamples: Record<
  string,
  {
    id: string;
    type: ChangeRequest['spec']['type'];
    strategy: ChangeRequest['spec']['rollout']['strategy'];
    environment: string;
  }
> = {
  'normal-rolling.yaml': {
    id: 'CHG-1234',
    type: 'normal',
    strategy: 'rolling',
    environment: 'production',
  },
  'standard-config.yaml': {
    id: 'STD-77',
    type: 'standard',
    strategy: 'rolling',
    environment: 'staging',
  },
  'canary.yaml': { id: 'CHG-2001', type: 'normal', strategy: 'canary', environment: 'production' },
  'blue-green.yaml': {
    id: 'CHG-3001',
    type: 'normal',
    strategy: 'blueGreen',
    environment: 'production',
  },
  'emergency.yaml': {
    id: 'EMG-42',
    type: 'emergency',
    strategy: 'rolling',
    environment: 'production',
  },
};

const policyExample = 'policy.yaml';

describe('examples', () => {
  const requests = new Map<string, ChangeRequest>();
  let policy: Policy;

  before(async () => {
    policy = await loadPolicyFile(examplePath(policyExample));
    for (const file of Object.keys(changeExamples)) {
      requests.set(file, await loadChangeRequestFile(examplePath(file)));
    }
  });

  function request(file: string): ChangeRequest {
    const found = requests.get(file);
    assert.ok(found, `${file} was not loaded`);
    return found;
  }

  it('covers every file in examples/', async () => {
    const files = (await readdir(examplesDir)).filter((f) => /\.ya?ml$/.test(f)).sort();
    assert.deepEqual(files, [...Object.keys(changeExamples), policyExample].sort());
    for (const file of files) {
      const { kind } = parse(await readFile(examplePath(file), 'utf8')) as { kind: string };
      assert.equal(kind, file === policyExample ? 'Policy' : 'ChangeRequest', file);
    }
  });

  for (const [file, facts] of Object.entries(changeExamples)) {
    it(`${file}: ${facts.type} ${facts.strategy} change ${facts.id}`, () => {
      const cr = request(file);
      assert.equal(cr.metadata.id, facts.id);
      assert.equal(cr.spec.type, facts.type);
      assert.equal(cr.spec.rollout.strategy, facts.strategy);
      assert.equal(cr.spec.environment, facts.environment);
      assert.equal(changeWorkflowId(cr.metadata.id), `change-${facts.id}`);
      for (const metric of cr.spec.verification.metrics) {
        assert.ok(parseComparison(metric.failWhen), `${file}: ${metric.name}`);
      }
    });
  }

  it('gives every change its own id', () => {
    const ids = [...requests.values()].map((cr) => cr.metadata.id);
    assert.equal(new Set(ids).size, ids.length);
  });

  it('normal-rolling: the contract example, with its window, backup and two metrics', () => {
    const cr = request('normal-rolling.yaml');
    assert.deepEqual(cr.spec.services, ['api-gateway']);
    assert.equal(cr.spec.rollout.image, 'registry.example.com/api-gateway:2.5.0');
    assert.equal(cr.spec.window?.notBefore, '2026-12-01T02:00:00Z');
    assert.deepEqual(cr.spec.backup?.velero, {
      includeNamespaces: ['production'],
      snapshotVolumes: true,
      ttl: '720h',
    });
    assert.deepEqual(
      cr.spec.verification.metrics.map((m) => [m.name, m.failWhen]),
      [
        ['error-rate', '> 0.01'],
        ['p99-latency', '> 0.2'],
      ],
    );
    const { failureLimit, inconclusiveLimit, consecutiveErrorLimit } = cr.spec.verification;
    assert.deepEqual([failureLimit, inconclusiveLimit, consecutiveErrorLimit], [1, 2, 4]);
  });

  it('standard-config: manifests instead of an image, compared with the baseline', () => {
    const cr = request('standard-config.yaml');
    assert.equal(cr.spec.rollout.image, undefined);
    assert.deepEqual(
      cr.spec.rollout.manifests?.map((m) => `${m.kind}/${m.metadata.name}`),
      ['ConfigMap/auth-service-pool'],
    );
    assert.equal(parseComparison(cr.spec.verification.metrics[0]!.failWhen)?.kind, 'baseline');
  });

  it('canary: weights rise step by step with pauses between', () => {
    const steps = request('canary.yaml').spec.rollout.steps ?? [];
    const weights = steps.flatMap((s) => ('setWeight' in s ? [s.setWeight] : []));
    assert.deepEqual(weights, [10, 50]);
    assert.deepEqual(
      steps.flatMap((s) => ('pause' in s ? [s.pause] : [])),
      [{ duration: '2m' }, '5m'],
    );
    const cr = request('canary.yaml');
    assert.deepEqual(cr.spec.preflight?.gates, [
      { name: 'load-test-ready', webhook: 'load-test', timeout: '30s' },
    ]);
    assert.deepEqual(cr.spec.promotion?.gates, [
      { name: 'release-manager', webhook: 'release-approval', timeout: '1m' },
    ]);
  });

  it('blue-green: switches a declared Service', () => {
    const cr = request('blue-green.yaml');
    assert.equal(cr.spec.rollout.service, 'auth-service');
    assert.ok(cr.spec.services.includes(cr.spec.rollout.service));
    assert.equal(cr.spec.rollout.cleanupAfter, '10m');
    assert.deepEqual(
      cr.spec.verification.checks?.map((c) => [c.name, Object.keys(c).find((k) => k !== 'name')]),
      [
        ['pods-ready', 'podsReady'],
        ['restarts', 'restarts'],
        ['health', 'http'],
        ['error-logs', 'logs'],
      ],
    );
    assert.equal(cr.spec.verification.checks?.[2]?.http?.service, cr.spec.rollout.service);
  });

  it('emergency: names its incident', () => {
    assert.equal(request('emergency.yaml').spec.incident, 'INC-42');
  });

  it('policy: windows, freeze, approvals and incident commanders', () => {
    assert.equal(policy.metadata.name, 'platform-default');
    assert.deepEqual(
      policy.spec.windows.map((w) => [w.name, w.kind]),
      [
        ['prod-maintenance', 'allow'],
        ['prod-business-hours', 'deny'],
      ],
    );
    assert.deepEqual(
      policy.spec.freezes.map((f) => f.name),
      ['year-end'],
    );
    const commanders = Object.entries(policy.spec.people)
      .filter(([, person]) => person.incidentCommander)
      .map(([handle]) => handle);
    assert.deepEqual(commanders, ['carol', 'erin']);
    assert.equal(policy.spec.emergency.breakGlass, true);
  });

  describe('the change requests fit the example policy', () => {
    function teamMembers(team: string): string[] {
      return Object.entries(policy.spec.people)
        .filter(([, person]) => person.teams.includes(team))
        .map(([handle]) => handle);
    }

    for (const file of Object.keys(changeExamples)) {
      it(`${file}: its requester, environment and services are known to the policy`, () => {
        const cr = request(file);
        const requester = cr.metadata.requestedBy;
        assert.ok(policy.spec.people[requester], `${requester} is not in spec.people`);
        const environmentRule =
          policy.spec.approvals.environments[cr.spec.environment] ??
          policy.spec.approvals.environments['*'];
        assert.ok(environmentRule, `no approval rule for ${cr.spec.environment}`);
        // Emergency changes are approved by an incident commander (checked below); pre-approved
        // standard changes by no one.
        const needsApprovals =
          isPlanned(cr.spec.type) &&
          !(
            cr.spec.type === 'standard' &&
            policy.spec.approvals.standardPreApproved.includes(cr.spec.environment)
          );
        const requiredTeams = [...(policy.spec.risk.requires[cr.spec.risk]?.teams ?? [])];
        for (const service of cr.spec.services) {
          const rule = policy.spec.approvals.services[service];
          assert.ok(rule, `no approval teams for ${service}`);
          requiredTeams.push(...rule.teams);
        }
        if (!needsApprovals) return;
        for (const service of cr.spec.services) {
          for (const team of policy.spec.approvals.services[service]!.teams) {
            // No self-approval: someone other than the requester must be able to sign for the team.
            const approvers = teamMembers(team).filter((handle) => handle !== requester);
            assert.ok(
              approvers.length > 0,
              `${file}: ${service} needs an approver from team ${team}, whose members ` +
                `(${teamMembers(team).join(', ')}) do not include anyone but the requester ` +
                `${requester}, so the change could never be approved`,
            );
          }
        }
        for (const team of requiredTeams) {
          assert.ok(
            teamMembers(team).some((handle) => handle !== requester),
            `${file}: no one but ${requester} in team ${team}`,
          );
        }
        const minApprovers = Math.max(
          environmentRule.minApprovers,
          policy.spec.risk.requires[cr.spec.risk]?.minApprovers ?? 0,
        );
        const others = Object.keys(policy.spec.people).filter((h) => h !== requester);
        assert.ok(others.length >= minApprovers, `${file}: too few people to approve`);
      });
    }

    it('the standard change is pre-approved in its environment', () => {
      const cr = request('standard-config.yaml');
      assert.ok(policy.spec.approvals.standardPreApproved.includes(cr.spec.environment));
    });

    it('the emergency change has an incident commander other than its requester', () => {
      const cr = request('emergency.yaml');
      assert.ok(!isPlanned(cr.spec.type));
      const commanders = Object.entries(policy.spec.people).filter(
        ([handle, person]) => person.incidentCommander && handle !== cr.metadata.requestedBy,
      );
      assert.ok(commanders.length > 0);
    });

    it("normal-rolling's notBefore opens in the maintenance window, before the freeze", () => {
      const cr = request('normal-rolling.yaml');
      const notBefore = new Date(cr.spec.window!.notBefore!);
      const maintenance = policy.spec.windows.find((w) => w.name === 'prod-maintenance')!;
      // '0 2 * * 2,4': Tuesdays and Thursdays at 02:00 UTC.
      assert.equal(maintenance.schedule, '0 2 * * 2,4');
      assert.equal(maintenance.timeZone, 'UTC');
      assert.ok([2, 4].includes(notBefore.getUTCDay()));
      assert.equal(notBefore.getUTCHours(), 2);
      const needed =
        parseDuration(cr.spec.rollout.timeout)! + parseDuration(cr.spec.verification.watch)!;
      assert.ok(needed <= parseDuration(maintenance.duration)!, 'the window leaves no room');
      const freeze = policy.spec.freezes[0]!;
      assert.ok(notBefore.getTime() < Date.parse(freeze.from));
    });
  });
});
