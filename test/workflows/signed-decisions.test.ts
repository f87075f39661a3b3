/**
 * Signed decisions inside the workflow (policy identity.mode: signed): the submission, approvals
 * and operator messages are taken only as statements signed by a key the policy gives the person,
 * for this change, this request and this action, fresh and used once; anything else is refused
 * and kept, and no payload can fail a workflow task. Keys and signatures come from the real
 * ssh-keygen; freshness is against the time-skipping server's clock.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { ChangeRequest } from '../../src/core/change/request';
import { FailureType } from '../../src/core/errors';
import { verifyChangeLogEvidence } from '../../src/core/identity/evidence';
import {
  requestDigest,
  statementBytes,
  type SignedStatement,
  type Statement,
  type StatementAction,
} from '../../src/core/identity/statement';
import { MAX_REFUSED_KEPT, type ChangeStatus } from '../../src/core/lifecycle/status';
import type { Policy } from '../../src/core/policy/schema';
import { startChange } from '../../src/temporal/start';
import {
  approveSignal,
  approveUpdate,
  cancelSignal,
  decideSignal,
  documentSignal,
  extendSignal,
  lockGrantedSignal,
  rejectSignal,
  rejectUpdate,
  rescheduleSignal,
  rollbackSignal,
  statusQuery,
} from '../../workflows/messages';
import { createFakeActivities, testPolicy, testRequest } from '../helpers/fakes';
import {
  changeWorker,
  eventsOf,
  serviceRequest,
  uniqueService,
  waitForStatus,
  type ChangeHandle,
} from '../helpers/planned-run';
import { KeyFolder, sshSign, type TestKey } from '../helpers/ssh-keys';
import { createTimeSkippingEnv, uniqueChangeId } from '../helpers/temporal';

const people = ['alice', 'bob', 'carol', 'dave'] as const;
type Person = (typeof people)[number];

describe('signed decisions in the workflow', () => {
  let env: TestWorkflowEnvironment;
  let folder: KeyFolder;
  const keys = {} as Record<Person | 'mallory', TestKey>;
  let policy: Policy;

  before(async () => {
    env = await createTimeSkippingEnv();
    folder = await KeyFolder.create();
    for (const name of [...people, 'mallory'] as const) keys[name] = await folder.key(name);
    const base = testPolicy();
    policy = testPolicy({
      spec: {
        identity: { mode: 'signed' },
        people: Object.fromEntries(
          people.map((p) => [p, { ...base.spec.people[p], keys: [keys[p].publicLine] }]),
        ),
      },
    });
  });
  after(async () => {
    await env?.teardown();
    await folder?.close();
  });

  /** A statement signed with `key`, issued at the test server's current time (or `skewMs` off it). */
  async function sign(
    key: TestKey,
    fields: {
      person: string;
      action: StatementAction;
      request: ChangeRequest;
      args?: Statement['args'];
      changeId?: string;
      digest?: string;
      skewMs?: number;
      nonce?: string;
    },
  ): Promise<SignedStatement> {
    const statement: Statement = {
      changeId: fields.changeId ?? fields.request.metadata.id,
      requestDigest: fields.digest ?? requestDigest(fields.request),
      action: fields.action,
      args: fields.args ?? {},
      person: fields.person,
      issuedAt: new Date((await env.currentTimeMs()) + (fields.skewMs ?? 0)).toISOString(),
      nonce: fields.nonce ?? randomBytes(16).toString('base64url'),
    };
    return { statement, signature: await sshSign(key, statementBytes(statement)) };
  }

  const submission = (request: ChangeRequest, as: Person = 'alice') =>
    sign(keys[as], { person: as, action: 'submit', request });

  async function withChange<T>(
    title: string,
    request: ChangeRequest,
    body: (handle: ChangeHandle, fakes: ReturnType<typeof createFakeActivities>) => Promise<T>,
    start: { submission?: SignedStatement } = {},
  ): Promise<T> {
    const fakes = createFakeActivities(env.client, { policy });
    const worker = await changeWorker(env, title, fakes.activities);
    return await worker.runUntil(async () => {
      const handle = await startChange(env.client, request, {
        taskQueue: worker.options.taskQueue,
        ...start,
      });
      return await body(handle, fakes);
    });
  }

  /** Ends a change left awaiting approval (alice cancels her own), so no run outlives its worker. */
  async function endIt(handle: ChangeHandle, request: ChangeRequest): Promise<void> {
    await handle.signal(
      cancelSignal,
      await sign(keys.alice, {
        person: 'alice',
        action: 'cancel',
        request,
        args: { reason: 'test over' },
      }),
    );
    await handle.result();
  }

  const awaiting = (handle: ChangeHandle) =>
    waitForStatus(handle, (s) => s.state === 'awaiting-approval', 'awaiting-approval');

  async function assertUpdateFails(update: Promise<unknown>, type: string, reason: RegExp) {
    await assert.rejects(update, (err: unknown) => {
      assert.ok(err instanceof WorkflowUpdateFailedError, String(err));
      assert.ok(err.cause instanceof ApplicationFailure);
      assert.equal(err.cause.type, type);
      assert.match(err.cause.message, reason);
      return true;
    });
  }

  it('runs on signed decisions and keeps each one as evidence anyone can check', async (t) => {
    const request = testRequest(uniqueChangeId('SIG'));
    const log = await withChange(
      t.name,
      request,
      async (handle) => {
        const status = await awaiting(handle);
        assert.equal(status.requestDigest, requestDigest(request));
        assert.equal(status.identityMode, 'signed');
        const ack = await handle.executeUpdate(approveUpdate, {
          args: [
            await sign(keys.dave, {
              person: 'dave',
              action: 'approve',
              request,
              args: { comment: 'lgtm' },
            }),
          ],
        });
        assert.equal(ack.state, 'awaiting-approval');
        await handle.signal(
          approveSignal,
          await sign(keys.bob, { person: 'bob', action: 'approve', request }),
        );
        return await handle.result();
      },
      { submission: await submission(request) },
    );
    assert.equal(log.changeLog.state, 'completed');
    assert.deepEqual(
      log.changeLog.decisions.map((d) => [d.action, d.person, d.fingerprint]),
      [
        ['submit', 'alice', keys.alice.fingerprint],
        ['approve', 'dave', keys.dave.fingerprint],
        ['approve', 'bob', keys.bob.fingerprint],
      ],
    );
    assert.deepEqual(
      log.changeLog.approvals.received.map((a) => [a.by, a.fingerprint, a.unverified]),
      [
        ['dave', keys.dave.fingerprint, undefined],
        ['bob', keys.bob.fingerprint, undefined],
      ],
    );
    const report = verifyChangeLogEvidence(JSON.parse(JSON.stringify(log)), policy.spec.people);
    assert.deepEqual(report.problems, []);
    assert.ok(report.ok, JSON.stringify(report.decisions));
  });

  it('ends rejected, touching nothing, when the submission is unsigned or not the requester’s', async (t) => {
    const unsigned = testRequest(uniqueChangeId('SIG'));
    const first = await withChange(t.name, unsigned, async (handle, fakes) => ({
      log: await handle.result(),
      calls: fakes.calls.map((c) => c.name).filter((n) => n !== 'notify'),
    }));
    assert.equal(first.log.changeLog.state, 'rejected');
    assert.match(first.log.changeLog.change.result, /^submission refused: unsigned/);
    assert.deepEqual(first.calls, ['loadPolicy']);

    const byBob = testRequest(uniqueChangeId('SIG'));
    const second = await withChange(t.name, byBob, (handle) => handle.result(), {
      submission: await submission(byBob, 'bob'),
    });
    assert.equal(second.changeLog.state, 'rejected');
    assert.match(
      second.changeLog.change.result,
      /signed by bob, but metadata\.requestedBy is alice: the requester submits their own change/,
    );
  });

  it('refuses forged, unsigned, replayed, stale and misdirected approvals, by update and by signal', async (t) => {
    const request = testRequest(uniqueChangeId('SIG'));
    const other = testRequest(uniqueChangeId('SIG'));
    const status = await withChange(
      t.name,
      request,
      async (handle) => {
        await awaiting(handle);
        const approve = (signed: unknown) =>
          handle.executeUpdate(approveUpdate, { args: [signed as SignedStatement] });
        // bob's name, dave's key: the approval is the key's, not the name's.
        await assertUpdateFails(
          approve(await sign(keys.dave, { person: 'bob', action: 'approve', request })),
          FailureType.Refused,
          /says bob but is signed with dave's key/,
        );
        await assertUpdateFails(
          approve(await sign(keys.mallory, { person: 'bob', action: 'approve', request })),
          FailureType.Refused,
          /unknown key SHA256:/,
        );
        await assertUpdateFails(
          approve({ actor: 'bob' }),
          FailureType.Refused,
          /unsigned: policy test takes only signed decisions/,
        );
        await assertUpdateFails(
          approve(
            await sign(keys.bob, { person: 'bob', action: 'approve', request, skewMs: -600_000 }),
          ),
          FailureType.Refused,
          /sign it again/,
        );
        await assertUpdateFails(
          approve(
            await sign(keys.bob, {
              person: 'bob',
              action: 'approve',
              request,
              digest: requestDigest(other),
            }),
          ),
          FailureType.Refused,
          /it was not the one reviewed/,
        );
        await assertUpdateFails(
          approve(
            await sign(keys.bob, {
              person: 'bob',
              action: 'approve',
              request: other,
              digest: requestDigest(request),
            }),
          ),
          FailureType.Refused,
          new RegExp(`for change ${other.metadata.id}, not ${request.metadata.id}`),
        );
        await assertUpdateFails(
          handle.executeUpdate(rejectUpdate, {
            args: [
              (await sign(keys.bob, {
                person: 'bob',
                action: 'approve',
                request,
              })) as never,
            ],
          }),
          FailureType.Refused,
          /is for 'approve', not 'reject'/,
        );
        // One good approval, then the very same statement again.
        const good = await sign(keys.dave, { person: 'dave', action: 'approve', request });
        await approve(good);
        await assertUpdateFails(approve(good), FailureType.Refused, /already (used|approved)/);
        // The signal path: an unsigned approval as the Temporal UI would send it.
        await handle.signal(approveSignal, { actor: 'bob' });
        await handle.signal(rejectSignal, { actor: 'carol', reason: 'forged' });
        const refused = await waitForStatus(
          handle,
          (s) => s.approvals.refused.filter((r) => r.via === 'signal').length === 2,
          'two refused signals',
        );
        await endIt(handle, request);
        return refused;
      },
      { submission: await submission(request) },
    );
    assert.equal(status.state, 'awaiting-approval');
    assert.deepEqual(
      status.approvals.received.map((a) => a.by),
      ['dave'],
    );
    assert.equal(status.approvals.rejected, undefined);
    assert.deepEqual(
      status.approvals.refused.filter((r) => r.via === 'signal').map((r) => [r.by, r.action]),
      [
        ['bob', 'approve'],
        ['carol', 'reject'],
      ],
    );
    assert.ok(eventsOf(status).includes('approve refused'));
  });

  it('takes no payload, however malformed, as a failed workflow task, and bounds what it keeps', async (t) => {
    const request = serviceRequest(uniqueChangeId('SIG'), uniqueService());
    const status = await withChange(
      t.name,
      request,
      async (handle) => {
        await awaiting(handle);
        const junk: unknown[] = [
          undefined,
          null,
          42,
          'approve',
          [],
          { actor: 7 },
          { statement: null, signature: 5 },
          { statement: { person: 'bob' }, signature: '-----BEGIN SSH SIGNATURE-----' },
          { actor: 'bob', reason: 'x'.repeat(200_000) },
        ];
        const signals: string[] = [
          approveSignal,
          rejectSignal,
          cancelSignal,
          rollbackSignal,
          extendSignal,
          rescheduleSignal,
          decideSignal,
          documentSignal,
          lockGrantedSignal,
        ].map((d) => d.name);
        for (const payload of junk) {
          for (const signal of signals) await handle.signal(signal, payload);
          for (const update of [approveUpdate, rejectUpdate]) {
            await assert.rejects(
              handle.executeUpdate(update, { args: [payload as never] }),
              WorkflowUpdateFailedError,
            );
          }
        }
        // More refusals than the record itemises.
        for (let i = 0; i < MAX_REFUSED_KEPT; i++)
          await handle.signal(approveSignal, { actor: 'bob' });
        const counted = await waitForStatus(
          handle,
          // Seven messages a planned change answers (document is an emergency's), each refused.
          (s) => s.approvals.refusedCount === junk.length * 7 + MAX_REFUSED_KEPT,
          'every refusal counted',
        );
        await endIt(handle, request);
        return counted;
      },
      { submission: await submission(request) },
    );
    assert.equal(status.state, 'awaiting-approval', 'the change is where it was');
    assert.equal(status.approvals.received.length, 0);
    assert.equal(status.approvals.refused.length, MAX_REFUSED_KEPT);
    assert.ok(status.approvals.refused.every((r) => r.reason.length <= 400));
    assert.ok(
      eventsOf(status).filter((e) => e.endsWith('refused')).length <= MAX_REFUSED_KEPT,
      'the timeline itemises at most the first refusals',
    );
    assert.ok(eventsOf(status).includes('refusals no longer itemised here'));
    assert.ok(eventsOf(status).includes('lock grant ignored'), 'a forged lock grant is ignored');
  });

  it('lets only the people the policy names cancel, roll back, extend, reschedule and decide', async (t) => {
    const request = testRequest(uniqueChangeId('SIG'));
    const status: ChangeStatus = await withChange(
      t.name,
      request,
      async (handle) => {
        await awaiting(handle);
        const as = (person: Person, action: StatementAction, args: Statement['args']) =>
          sign(keys[person], { person, action, request, args });
        // dave (platform, security) is neither the requester nor, yet, an approver; the change
        // needs sre, the team of api-gateway.
        await handle.signal(extendSignal, await as('dave', 'extend', { duration: '10m' }));
        await handle.signal(decideSignal, await as('alice', 'decide', { decision: 'proceed' }));
        await handle.signal(
          rollbackSignal,
          await as('dave', 'rollback', { reason: 'not mine to roll back' }),
        );
        await handle.signal(
          rescheduleSignal,
          await as('alice', 'reschedule', { notBefore: '2030-01-01T00:00:00Z' }),
        );
        await handle.signal(cancelSignal, await as('bob', 'cancel', { reason: 'sre says no' }));
        await handle.result();
        return await handle.query(statusQuery);
      },
      { submission: await submission(request) },
    );
    const refused = status.approvals.refused.map((r) => [r.by, r.action]);
    assert.deepEqual(refused, [
      ['dave', 'extend'],
      ['alice', 'decide'],
      ['dave', 'rollback'],
    ]);
    assert.match(status.approvals.refused[1]!.reason, /alice .* may not decide this change/);
    const events = eventsOf(status);
    assert.ok(events.includes('rescheduled'), 'the requester may reschedule');
    assert.ok(events.includes('cancel requested'), 'the service team may cancel');
    assert.equal(status.outcome, 'cancelled by bob: sre says no');
  });

  it('refuses at once a change outside the environment that owns its namespace, or its template', async (t) => {
    const bypass = testRequest(uniqueChangeId('SIG'), {
      type: 'standard',
      standard: 'image-bump',
      environment: 'staging',
      namespace: 'production',
    });
    const scoped = await withChange(
      t.name,
      bypass,
      async (handle, fakes) => ({
        log: await handle.result(),
        calls: fakes.calls.map((c) => c.name).filter((n) => n !== 'notify'),
      }),
      { submission: await submission(bypass) },
    );
    assert.equal(scoped.log.changeLog.state, 'rejected');
    assert.match(
      scoped.log.changeLog.change.result,
      /spec\.namespace: .*namespace production .*, not to staging/,
    );
    assert.deepEqual(scoped.calls, ['loadPolicy']);

    const unfit = testRequest(uniqueChangeId('SIG'), {
      type: 'standard',
      standard: 'no-such-template',
      environment: 'staging',
      namespace: 'staging',
    });
    const template = await withChange(t.name, unfit, (handle) => handle.result(), {
      submission: await submission(unfit),
    });
    assert.equal(template.changeLog.state, 'rejected');
    assert.match(
      template.changeLog.change.result,
      /standard change 'no-such-template' is not in the policy/,
    );
  });
});
