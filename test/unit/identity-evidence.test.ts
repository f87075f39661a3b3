import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  verifyChangeLogEvidence,
  type ChangeLogEvidence,
  type DecisionEvidence,
} from '../../src/core/identity/evidence';
import { parsePublicKeyLine } from '../../src/core/identity/keys';
import { requestDigest, statementBytes, type Statement } from '../../src/core/identity/statement';
import { RefusalCode, verifySubmission, type PolicyPeople } from '../../src/core/identity/verify';
import type { ChangeRequest } from '../../src/core/change/request';
import { loadChangeRequestFile } from '../../src/load/change';
import { KeyFolder, sshSign, type TestKey } from '../helpers/ssh-keys';

describe('change log evidence, checked offline', () => {
  let folder: KeyFolder;
  let keys: Record<'alice' | 'bob' | 'carol', TestKey>;
  let people: PolicyPeople;
  let request: ChangeRequest;
  let log: ChangeLogEvidence;

  async function decision(
    person: keyof typeof keys,
    action: Statement['action'],
    args: Statement['args'],
    at: string,
    nonce: string,
  ): Promise<DecisionEvidence> {
    const statement: Statement = {
      changeId: request.metadata.id,
      requestDigest: requestDigest(request),
      action,
      args,
      person,
      issuedAt: new Date(Date.parse(at) - 2_000).toISOString(),
      nonce,
    };
    const signature = await sshSign(keys[person], statementBytes(statement));
    const parsed = parsePublicKeyLine(keys[person].publicLine);
    assert.ok(parsed.ok);
    return {
      action,
      person,
      at,
      fingerprint: parsed.key.fingerprint,
      signed: { statement, signature },
    };
  }

  before(async () => {
    folder = await KeyFolder.create();
    const [alice, bob, carol] = await Promise.all([
      folder.key('alice'),
      folder.key('bob', 'ecdsa'),
      folder.key('carol'),
    ]);
    keys = { alice: alice, bob: bob, carol: carol };
    people = {
      alice: { keys: [alice.publicLine] },
      bob: { keys: [bob.publicLine] },
      carol: { keys: [carol.publicLine] },
    };
    request = await loadChangeRequestFile('examples/normal-rolling.yaml');
    log = {
      id: request.metadata.id,
      requestDigest: requestDigest(request),
      request,
      decisions: [
        await decision('alice', 'submit', {}, '2026-12-01T01:00:00.000Z', 'nonce-submit-000001'),
        await decision(
          'bob',
          'approve',
          { comment: 'ok' },
          '2026-12-01T01:05:00.000Z',
          'nonce-approve-00001',
        ),
        await decision('carol', 'approve', {}, '2026-12-01T01:09:00.000Z', 'nonce-approve-00002'),
      ],
    };
  });
  after(() => folder.close());

  const copy = (): ChangeLogEvidence => structuredClone(log);

  it('passes a log whose request, digest and decisions are what was signed', () => {
    const report = verifyChangeLogEvidence({ changeLog: log }, people);
    assert.deepEqual(report.problems, []);
    assert.ok(report.ok, JSON.stringify(report, null, 2));
    assert.deepEqual(
      report.decisions.map((d) => d.decision),
      [
        'decisions[0] submit by alice at 2026-12-01T01:00:00.000Z',
        'decisions[1] approve by bob at 2026-12-01T01:05:00.000Z',
        'decisions[2] approve by carol at 2026-12-01T01:09:00.000Z',
      ],
    );
    assert.match(report.decisions[1]!.detail, /^signed by bob \(SHA256:/);
    assert.ok(verifyChangeLogEvidence(log, people).ok, 'a bare change log too');
  });

  it('fails every decision when the request was changed after it was signed', () => {
    const changed = copy();
    (changed.request as ChangeRequest).spec.rollout.image = 'registry.example.com/evil:1';
    const report = verifyChangeLogEvidence(changed, people);
    assert.equal(report.ok, false);
    assert.match(
      report.problems[0]!,
      /changeLog.requestDigest: the request hashes to [0-9a-f]{64}, not/,
    );
    assert.ok(report.decisions.every((d) => !d.ok && /not the one reviewed/.test(d.detail)));
  });

  it('names the decision that was tampered with, and only that one', () => {
    const changed = copy();
    changed.decisions[1]!.person = 'dave';
    changed.decisions[2]!.signed!.statement.args = { comment: 'added later' };
    const report = verifyChangeLogEvidence(changed, people);
    assert.deepEqual(
      report.decisions.map((d) => d.ok),
      [true, false, false],
    );
    assert.match(report.decisions[1]!.detail, /signed by bob, but recorded as dave/);
    assert.match(report.decisions[2]!.detail, /bad signature/);
  });

  it('refuses a decision counted twice, an unsigned one, and a late acceptance', () => {
    const changed = copy();
    changed.decisions.push({
      ...structuredClone(log.decisions[1]!),
      at: '2026-12-01T01:06:00.000Z',
    });
    changed.decisions.push({ action: 'approve', person: 'carol', at: '2026-12-01T01:10:00.000Z' });
    changed.decisions[2]!.at = '2026-12-01T02:09:00.000Z';
    const report = verifyChangeLogEvidence(changed, people);
    assert.match(report.decisions[2]!.detail, /issued at .* before 2026-12-01T02:09:00.000Z/);
    assert.match(report.decisions[3]!.detail, /nonce nonce-approve-00001 was already used/);
    assert.match(report.decisions[4]!.detail, /UNVERIFIED: not signed/);
  });

  it('requires one submission, by the requester', () => {
    const none = copy();
    none.decisions.shift();
    assert.match(
      verifyChangeLogEvidence(none, people).problems.join('\n'),
      /expected one submit decision, got 0/,
    );
    const other = copy();
    (other.request as ChangeRequest).metadata.requestedBy = 'bob';
    other.requestDigest = requestDigest(other.request as ChangeRequest);
    assert.match(
      verifyChangeLogEvidence(other, people).problems.join('\n'),
      /submitted by alice, but the request says requestedBy bob/,
    );
  });

  it('refuses a key the policy no longer has', () => {
    const report = verifyChangeLogEvidence(log, { ...people, carol: { keys: [] } });
    assert.equal(report.ok, false);
    assert.match(report.decisions[2]!.detail, /carol has no keys in the policy/);
  });

  it('accepts a submission signed by the requester, and only by them', async () => {
    const expected = {
      policyPeople: people,
      now: Date.parse(log.decisions[0]!.at),
      usedNonces: new Set<string>(),
    };
    const ok = verifySubmission(log.decisions[0]!.signed, request, expected);
    assert.ok(ok.ok && ok.person === 'alice', JSON.stringify(ok));
    const byBob = await decision('bob', 'submit', {}, log.decisions[0]!.at, 'nonce-submit-000002');
    const refused = verifySubmission(byBob.signed, request, expected);
    assert.ok(!refused.ok);
    assert.equal(refused.code, RefusalCode.NotRequester);
    assert.match(refused.reason, /CHG-1234 is signed by bob, but metadata.requestedBy is alice/);
    const other = structuredClone(request);
    other.spec.rollout.image = 'registry.example.com/api-gateway:9';
    const changed = verifySubmission(log.decisions[0]!.signed, other, expected);
    assert.ok(!changed.ok);
    assert.equal(changed.code, RefusalCode.WrongDigest);
  });

  it('names the fields of a log that is not one', () => {
    const report = verifyChangeLogEvidence(
      { changeLog: { id: 'CHG-1', decisions: 'none' } },
      people,
    );
    assert.equal(report.ok, false);
    assert.deepEqual(report.problems.sort(), [
      'changeLog.decisions: expected array, received string',
      'changeLog.request: required field is missing',
      'changeLog.requestDigest: required field is missing (expected string)',
    ]);
  });
});
