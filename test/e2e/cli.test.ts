import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { startDevStack, type DevStack } from '../../src/stack/devstack';
import { toolPath } from '../../src/stack/tools';
import { parseChangeRequest } from '../../src/load/change';
import {
  requestDigest,
  statementBytes,
  type SignedStatement,
} from '../../src/core/identity/statement';
import { newStatement, signStatement } from '../../src/cli/signing';
import { startChange } from '../../src/temporal/start';
import type { ChangeLog, ChangeStatus } from '../../src/core/lifecycle/status';
import { statusQuery } from '../../workflows/messages';
import { closedPort } from '../helpers/ports';
import { KeyFolder, sshSign, type TestKey } from '../helpers/ssh-keys';
import { uniqueChangeId } from '../helpers/temporal';
import {
  actingAs,
  changeRequest,
  changectl,
  cliEnv,
  shown,
  writePolicy,
  writeRequest,
  type CliResult,
} from './harness';

/** The real Temporal CLI of .tools, as an approver at a terminal would use it. */
function temporalCli(
  args: string[],
  address: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      toolPath('temporal'),
      [...args, '--address', address, '--namespace', 'default'],
      { timeout: 60_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? -1) : 0, stdout, stderr }),
    );
  });
}

interface ListedChange {
  id: string;
  state: string;
  environment: string;
  services: string[];
}

function expectExit(r: CliResult, code: number): void {
  assert.equal(r.code, code, shown(r));
}

describe('changectl against the dev stack', () => {
  let stack: DevStack | undefined;
  let env: Record<string, string>;
  let dir: string;
  let connection: Connection | undefined;
  let client: Client;
  let outsiders: KeyFolder | undefined;
  /** A key no one in the policy has. */
  let mallory: TestKey;

  const run = (...args: string[]) => changectl(args, env);
  /** Runs changectl as a person of the policy, signing with their key. */
  const runAs = (person: string, ...args: string[]) =>
    changectl(args, actingAs(stack!, env, person));
  const status = async (id: string): Promise<ChangeStatus> => {
    const r = await run('status', id, '--json');
    expectExit(r, 0);
    return JSON.parse(r.stdout) as ChangeStatus;
  };
  const list = async (...filters: string[]): Promise<ListedChange[]> => {
    const r = await run('list', '--json', ...filters);
    expectExit(r, 0);
    return JSON.parse(r.stdout) as ListedChange[];
  };
  /** Polls the status in-process (test plumbing; the CLI's own status is asserted elsewhere). */
  const statusUntil = async (
    id: string,
    done: (s: ChangeStatus) => boolean,
    timeoutMs = 60_000,
  ): Promise<ChangeStatus> => {
    const handle = client.workflow.getHandle(`change-${id}`);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = await handle.query(statusQuery).catch(() => undefined);
      if (s && done(s)) return s;
      if (Date.now() > deadline) {
        assert.fail(`${id} stayed ${s?.state}: ${JSON.stringify(s?.timeline.slice(-3))}`);
      }
      await sleep(250);
    }
  };
  /** Submits as the request's requester, signed with their key. */
  const submit = async (request: Record<string, unknown>): Promise<string> => {
    const file = await writeRequest(dir, request);
    const requester = (request.metadata as { requestedBy: string }).requestedBy;
    const r = await runAs(requester, 'submit', file, '--json');
    expectExit(r, 0);
    return (JSON.parse(r.stdout) as { id: string }).id;
  };

  before(
    async () => {
      dir = await mkdtemp(join(tmpdir(), 'changectl-e2e-cli-'));
      stack = await startDevStack({
        stateDir: join(dir, 'state'),
        policyPath: await writePolicy(dir),
        log: () => undefined,
      });
      env = cliEnv(stack.env);
      connection = await Connection.connect({ address: stack.env.TEMPORAL_ADDRESS });
      client = new Client({ connection, namespace: stack.env.TEMPORAL_NAMESPACE });
      outsiders = await KeyFolder.create();
      mallory = await outsiders.key('mallory');
    },
    { timeout: 180_000 },
  );

  after(async () => {
    await connection?.close();
    await stack?.stop();
    await outsiders?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  // Independent flows run side by side: changes to one service still queue on its lock.
  describe('change flows', { concurrency: true }, () => {
    it('setup registers the search attributes on a namespace, and again is a no-op', async () => {
      const namespace = `setup-${Date.now()}`;
      await client.connection.workflowService.registerNamespace({
        namespace,
        workflowExecutionRetentionPeriod: msToTs(86_400_000),
      });
      const first = await run('setup', '--namespace', namespace, '--json');
      expectExit(first, 0);
      const registered = JSON.parse(first.stdout) as {
        namespace: string;
        searchAttributes: { name: string; type: string; result: string }[];
      };
      assert.equal(registered.namespace, namespace);
      assert.deepEqual(
        registered.searchAttributes.map((a) => `${a.name}:${a.type}:${a.result}`),
        [
          'ChangeId:KEYWORD:registered',
          'ChangeType:KEYWORD:registered',
          'ChangeState:KEYWORD:registered',
          'Environment:KEYWORD:registered',
          'Services:KEYWORD_LIST:registered',
          'RiskLevel:KEYWORD:registered',
          'RequestedBy:KEYWORD:registered',
        ],
      );
      const again = await run('setup', '--namespace', namespace);
      expectExit(again, 0);
      assert.equal(again.stdout.match(/already registered/g)?.length, 7, shown(again));
    });

    it('refuses a malformed request with exit 2, naming the field, and starts nothing', async () => {
      const id = uniqueChangeId('BAD');
      const request = changeRequest({ id, service: 'api-gateway', tag: '2.5.0' });
      const spec = request.spec as Record<string, unknown>;
      spec.rollout = { ...(spec.rollout as object), strategy: 'canary' };
      spec.risk = 'extreme';
      const file = await writeRequest(dir, request);
      const r = await run('submit', file);
      expectExit(r, 2);
      assert.match(r.stderr, /is invalid:/);
      assert.match(r.stderr, /\n {2}spec\.rollout\.steps: a canary rollout needs steps/);
      assert.match(r.stderr, /\n {2}spec\.risk: /);
      assert.equal(r.stdout, '');
      assert.deepEqual(
        (await list()).filter((c) => c.id === id),
        [],
        'no workflow was started',
      );
      expectExit(await run('status', id), 4);

      const notYaml = join(dir, 'broken.yaml');
      await writeFile(notYaml, 'metadata: [unclosed\n');
      const broken = await run('submit', notYaml);
      expectExit(broken, 2);
      assert.match(broken.stderr, /line \d+, column \d+/);
    });

    it('drives a change to completed: submit, refused self-approval, approval, watch, status, export', async () => {
      const id = uniqueChangeId('CHG');
      const file = await writeRequest(
        dir,
        changeRequest({ id, service: 'api-gateway', tag: '2.5.0' }),
      );
      const submitted = await runAs('alice', 'submit', file, '--json');
      expectExit(submitted, 0);
      const started = JSON.parse(submitted.stdout) as Record<string, string>;
      assert.deepEqual(Object.keys(started).sort(), ['id', 'requestDigest', 'runId', 'workflowId']);
      assert.equal(started.id, id);
      assert.equal(started.workflowId, `change-${id}`);
      assert.match(started.runId ?? '', /^[0-9a-f-]{36}$/);
      const digest = requestDigest(parseChangeRequest(await readFile(file, 'utf8')));
      assert.equal(started.requestDigest, digest);

      const duplicate = await runAs('alice', 'submit', file);
      expectExit(duplicate, 1);
      assert.match(duplicate.stderr, new RegExp(`change ${id} already exists`));

      await statusUntil(id, (s) => s.state === 'awaiting-approval');
      const waiting = await status(id);
      for (const key of [
        'id',
        'type',
        'state',
        'environment',
        'services',
        'risk',
        'approvals',
        'window',
        'backup',
        'verification',
        'timeline',
      ]) {
        assert.ok(key in waiting, `status --json has ${key}`);
      }
      assert.equal(waiting.id, id);
      assert.equal(waiting.type, 'normal');
      assert.equal(waiting.environment, 'production');
      assert.deepEqual(waiting.services, ['api-gateway']);
      assert.equal(waiting.approvals.required.minApprovers, 1);
      assert.deepEqual(waiting.approvals.received, []);
      assert.ok(Array.isArray(waiting.approvals.refused));
      assert.equal(waiting.requestDigest, digest);
      assert.equal(waiting.identityMode, 'signed');
      const waitingText = await run('status', id);
      expectExit(waitingText, 0);
      assert.match(waitingText.stdout, new RegExp(`^request +${digest}$`, 'm'));

      const selfApproval = await runAs('alice', 'approve', id, '--as', 'alice');
      expectExit(selfApproval, 3);
      assert.match(selfApproval.stderr, /^error: refused: .*alice/m);

      const otherDigest = await runAs(
        'bob',
        'approve',
        id,
        '--digest',
        digest.startsWith('0') ? '1111' : '0000',
      );
      expectExit(otherDigest, 3);
      assert.match(otherDigest.stderr, /it is not the change you reviewed/);

      const approved = await runAs(
        'bob',
        'approve',
        id,
        '--as',
        'bob',
        '--comment',
        'looks good',
        '--digest',
        digest.slice(0, 12),
        '--json',
      );
      expectExit(approved, 0);
      const ack = JSON.parse(approved.stdout) as Record<string, string>;
      assert.equal(ack.id, id);
      assert.equal(typeof ack.state, 'string');
      assert.equal(typeof ack.summary, 'string');
      assert.equal(ack.requestDigest, digest);
      assert.equal(ack.rollout, 'image registry.example.com/api-gateway:2.5.0');
      assert.equal(ack.by, 'bob');
      assert.match(ack.fingerprint ?? '', /^SHA256:/);

      const watched = await run('watch', id, '--interval', '1s');
      expectExit(watched, 0);
      assert.match(watched.stdout, /bob +approved +looks good/);
      assert.match(watched.stdout, new RegExp(`✓ change ${id} ended: completed`));

      const done = await status(id);
      assert.equal(done.state, 'completed');
      assert.deepEqual(
        done.approvals.received.map((a) => ({
          by: a.by,
          comment: a.comment,
          fingerprint: a.fingerprint,
          unverified: a.unverified,
        })),
        [{ by: 'bob', comment: 'looks good', fingerprint: ack.fingerprint, unverified: undefined }],
      );
      assert.ok(done.approvals.received[0]?.at);
      assert.ok(done.window.scheduledFor, 'the change was scheduled');
      assert.ok(done.backup.name, 'a backup was taken');
      assert.match(done.backup.restoreCommand ?? '', /velero restore create --from-backup /);
      assert.equal(done.verification.outcome, 'passed');
      assert.ok(done.verification.evaluations.length > 0);
      assert.ok(done.timeline.every((t) => t.at && t.actor && t.event));
      assert.ok(done.timeline.some((t) => t.actor === 'bob' && t.event === 'approved'));

      const text = await run('status', id);
      expectExit(text, 0);
      const lines = text.stdout.split('\n');
      assert.match(lines[0] ?? '', new RegExp(`^${id} `));
      assert.equal(lines[1], '[COMPLETED]');
      assert.match(text.stdout, /restore +velero restore create --from-backup/);
      assert.match(text.stdout, /verification +passed/);

      const markdown = await run('export', id);
      expectExit(markdown, 0);
      assert.match(markdown.stdout, new RegExp(`^# Change log ${id}\n`));
      for (const section of [
        'Change',
        'Verification',
        'Approvals',
        'Window',
        'Backup',
        'Rollout',
        'Timeline',
      ]) {
        assert.match(markdown.stdout, new RegExp(`^## ${section}$`, 'm'));
      }
      assert.match(markdown.stdout, /\| bob \| .* \| looks good \|/);
      const json = await run('export', id, '--format', 'json');
      expectExit(json, 0);
      const log = JSON.parse(json.stdout) as ChangeLog;
      assert.equal(log.changeLog.id, id);
      assert.equal(log.changeLog.state, 'completed');
      assert.ok(log.changeLog.change.description);
      assert.ok(log.changeLog.verification.results);

      // An auditor checks the exported log offline, then a copy with one byte changed.
      const exported = join(dir, `${id}.changelog.json`);
      await writeFile(exported, json.stdout);
      const verified = await run('verify', exported, '--policy', stack!.policyPath);
      expectExit(verified, 0);
      assert.match(verified.stdout, /^ok +decisions\[0\] submit by alice /m);
      assert.match(verified.stdout, /^ok +decisions\[1\] approve by bob /m);
      assert.match(
        verified.stdout,
        /: request digest and 2 signed decisions valid against policy e2e-window-free$/m,
      );
      const decisionsAt = json.stdout.indexOf('"decisions"');
      const commentAt = json.stdout.indexOf('looks good', decisionsAt);
      assert.ok(decisionsAt > 0 && commentAt > decisionsAt, 'the signed comment is in the log');
      const tampered = join(dir, `${id}.tampered.json`);
      await writeFile(
        tampered,
        `${json.stdout.slice(0, commentAt)}L${json.stdout.slice(commentAt + 1)}`,
      );
      const failed = await run('verify', tampered, '--policy', stack!.policyPath);
      expectExit(failed, 1);
      assert.match(failed.stdout, /^BAD decisions\[1\] approve by bob at \S+: bad signature/m);
      assert.match(failed.stdout, /^ok +decisions\[0\] submit by alice /m);
      assert.match(failed.stderr, /tampered\.json: 1 problem against policy e2e-window-free/);

      assert.ok((await list('--state', 'completed')).some((c) => c.id === id));
    });

    it('watch exits 1 when the watch fails and the change is rolled back', async () => {
      const id = await submit(
        changeRequest({
          id: uniqueChangeId('CHG'),
          service: 'auth-service',
          tag: '2.15.0-erroring',
        }),
      );
      expectExit(await runAs('bob', 'approve', id), 0);
      const watched = await run('watch', id);
      expectExit(watched, 1);
      assert.match(watched.stderr, new RegExp(`error: change ${id} ended: rolled back`));
      assert.match(watched.stdout, /watch failed +error-rate/);
      const after = await statusUntil(id, () => true);
      assert.equal(after.state, 'rolled-back');
      assert.equal(after.verification.outcome, 'failed');
      assert.ok(after.rollout.rollback, 'the rollback is on record');
    });

    it('rejects and cancels changes; signals to ended changes exit 1', async () => {
      const rejected = await submit(
        changeRequest({ id: uniqueChangeId('CHG'), service: 'api-gateway', tag: '2.6.0' }),
      );
      const cancelled = await submit(
        changeRequest({ id: uniqueChangeId('CHG'), service: 'api-gateway', tag: '2.6.1' }),
      );

      expectExit(await runAs('bob', 'reject', rejected, '--reason', 'not this week'), 0);
      const rejectedWatch = await run('watch', rejected);
      expectExit(rejectedWatch, 1);
      assert.match(rejectedWatch.stderr, /ended: rejected/);
      const rejectedStatus = await statusUntil(rejected, () => true);
      assert.equal(rejectedStatus.approvals.rejected?.reason, 'not this week');

      const cancel = await runAs(
        'alice',
        'cancel',
        cancelled,
        '--as',
        'alice',
        '--reason',
        'superseded',
        '--json',
      );
      expectExit(cancel, 0);
      const sent = JSON.parse(cancel.stdout) as Record<string, unknown>;
      assert.deepEqual(sent, {
        id: cancelled,
        workflowId: `change-${cancelled}`,
        signal: 'cancel',
        sent: true,
        by: 'alice',
        fingerprint: sent.fingerprint,
      });
      assert.match(String(sent.fingerprint), /^SHA256:/);
      const cancelledWatch = await run('watch', cancelled);
      expectExit(cancelledWatch, 1);
      assert.match(cancelledWatch.stderr, /ended: cancelled/);

      const again = await run('cancel', cancelled, '--reason', 'twice');
      expectExit(again, 1);
      assert.match(again.stderr, new RegExp(`change ${cancelled} already ended as cancelled`));
      const late = await runAs('bob', 'approve', rejected, '--as', 'bob');
      expectExit(late, 1);
      assert.match(late.stderr, /already ended as rejected/);
    });

    it('reschedules a change, extends its watch and rolls it back by operator signals', async () => {
      const held = await submit(
        changeRequest({ id: uniqueChangeId('CHG'), service: 'api-gateway', tag: '2.7.0' }),
      );
      const later = new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
      expectExit(await runAs('alice', 'reschedule', held, '--not-before', later), 0);
      expectExit(await runAs('carol', 'approve', held), 0);
      const scheduled = await statusUntil(held, (s) => s.state === 'scheduled');
      assert.equal(Date.parse(scheduled.window.notBefore ?? ''), Date.parse(later));
      expectExit(await runAs('alice', 'cancel', held, '--reason', 'moved to next week'), 0);
      await statusUntil(held, (s) => s.state === 'cancelled');

      const watched = await submit(
        changeRequest({
          id: uniqueChangeId('CHG'),
          service: 'api-gateway',
          tag: '2.7.1',
          watch: '2m',
        }),
      );
      expectExit(await runAs('bob', 'approve', watched), 0);
      const watching = await statusUntil(
        watched,
        (s) => s.state === 'watching' && Boolean(s.verification.watchEndsAt),
      );
      expectExit(await runAs('alice', 'extend', watched, '--by', '30s'), 0);
      const extended = await statusUntil(watched, (s) =>
        s.timeline.some((t) => t.event === 'watch extended'),
      );
      assert.equal(
        Date.parse(extended.verification.watchEndsAt ?? '') -
          Date.parse(watching.verification.watchEndsAt ?? ''),
        30_000,
      );
      expectExit(
        await runAs('carol', 'rollback', watched, '--reason', 'customers report errors'),
        0,
      );
      const rolledBack = await run('watch', watched);
      expectExit(rolledBack, 1);
      assert.match(rolledBack.stderr, /ended: rolled back/);
      const after = await statusUntil(watched, () => true);
      assert.equal(after.state, 'rolled-back');
      assert.match(after.rollout.rollback?.reason ?? '', /customers report errors/);
    });

    it('takes an emergency change through incident-commander approval and documentation', async () => {
      const id = await submit(
        changeRequest({
          id: uniqueChangeId('EMG'),
          service: 'api-gateway',
          tag: '2.7.2',
          type: 'emergency',
        }),
      );
      await statusUntil(id, (s) => s.state === 'awaiting-ic-approval');
      const notCommander = await runAs('bob', 'approve', id);
      expectExit(notCommander, 3);
      assert.match(notCommander.stderr, /^error: refused: .*bob/m);
      expectExit(await runAs('carol', 'approve', id), 0);

      const stranger = await runAs(
        'bob',
        'document',
        id,
        '--root-cause',
        'x',
        '--changed',
        'y',
        '--pir',
        'https://wiki.example.com/pir/42',
      );
      expectExit(stranger, 3);
      assert.match(stranger.stderr, /^error: refused: .*bob/m);
      const documented = await runAs(
        'carol',
        'document',
        id,
        '--root-cause',
        'bad TLS config',
        '--changed',
        'rolled out 2.7.2',
        '--pir',
        'https://wiki.example.com/pir/42',
        '--json',
      );
      expectExit(documented, 0);
      assert.equal((JSON.parse(documented.stdout) as { id: string }).id, id);

      expectExit(await run('watch', id), 0);
      const done = await statusUntil(id, () => true);
      assert.equal(done.state, 'completed');
      assert.equal(done.emergency?.incidentCommander, 'carol');
      assert.equal(
        done.emergency?.documentation?.postIncidentReview,
        'https://wiki.example.com/pir/42',
      );
    });

    it("refuses an approval in another's name: --as bob with dan's key, a key no one has, no key, a statement bob did not sign", async () => {
      const id = await submit(
        changeRequest({ id: uniqueChangeId('CHG'), service: 'auth-service', tag: '2.16.0' }),
      );
      await statusUntil(id, (s) => s.state === 'awaiting-approval');

      const forged = await runAs('dan', 'approve', id, '--as', 'bob');
      expectExit(forged, 3);
      assert.match(
        forged.stderr,
        /^error: refused: --as bob, but key SHA256:\S+ is dan's: you act as the person whose key signs$/m,
      );
      const unknown = await changectl(['approve', id, '--as', 'bob'], {
        ...env,
        CHANGECTL_KEY: mallory.path,
      });
      expectExit(unknown, 3);
      assert.ok(
        unknown.stderr.includes(`key ${mallory.fingerprint} is no one's in policy e2e-window-free`),
        shown(unknown),
      );
      const noKey = await run('approve', id, '--as', 'bob');
      expectExit(noKey, 2);
      assert.match(noKey.stderr, /--key: .*identity\.mode: signed.*set CHANGECTL_KEY/);

      // Around the CLI: a statement that says bob, signed with dan's key, sent as an update.
      const current = await status(id);
      const statement = newStatement({
        changeId: id,
        requestDigest: current.requestDigest,
        action: 'approve',
        args: {},
        person: 'bob',
      });
      const signature = await sshSign(
        { path: stack!.keys.dan!.path, publicLine: stack!.keys.dan!.publicLine, fingerprint: '' },
        statementBytes(statement),
      );
      const payload: SignedStatement = { statement, signature };
      await assert.rejects(
        client.workflow
          .getHandle(`change-${id}`)
          .executeUpdate<unknown, [SignedStatement]>('approve', { args: [payload] }),
        (err: unknown) => {
          const cause = (err as { cause?: { message?: string } }).cause;
          assert.match(cause?.message ?? String(err), /bob.*dan's key|dan's key.*bob/);
          return true;
        },
      );
      // The validator turned it away: nothing of it reached the change.
      const after = await status(id);
      assert.equal(after.state, 'awaiting-approval');
      assert.deepEqual(after.approvals.received, []);
      assert.deepEqual(
        after.decisions.map((d) => d.action),
        ['submit'],
      );
      expectExit(await runAs('alice', 'cancel', id, '--reason', 'forgery test done'), 0);
    });

    it("refuses an unsigned raw signal, and accepts one signed for the UI's Send Signal form", async () => {
      const id = await submit(
        changeRequest({ id: uniqueChangeId('CHG'), service: 'auth-service', tag: '2.16.1' }),
      );
      await statusUntil(id, (s) => s.state === 'awaiting-approval');
      const address = stack!.env.TEMPORAL_ADDRESS!;
      const signal = (input: string) =>
        temporalCli(
          [
            'workflow',
            'signal',
            '--workflow-id',
            `change-${id}`,
            '--name',
            'approve',
            '--input',
            input,
          ],
          address,
        );

      const unsigned = await signal('{"actor":"bob"}');
      assert.equal(unsigned.code, 0, unsigned.stderr);
      const refused = await statusUntil(id, (s) =>
        s.approvals.refused.some((r) => r.via === 'signal'),
      );
      assert.equal(refused.state, 'awaiting-approval');
      assert.deepEqual(refused.approvals.received, []);
      const text = await run('status', id);
      expectExit(text, 0);
      assert.match(text.stdout, /✗ .*approve refused: /);

      const signed = await runAs('bob', 'sign', 'approve', id, 'comment=from the UI form');
      expectExit(signed, 0);
      assert.doesNotMatch(signed.stdout, /PRIVATE KEY/);
      const sent = await signal(signed.stdout.trim());
      assert.equal(sent.code, 0, sent.stderr);
      const approved = await statusUntil(id, (s) => s.approvals.received.length > 0);
      assert.deepEqual(
        approved.approvals.received.map((a) => [a.by, a.comment, Boolean(a.fingerprint)]),
        [['bob', 'from the UI form', true]],
      );
      // The same payload again is a replay: refused, and it counts for nothing.
      const replay = await signal(signed.stdout.trim());
      assert.equal(replay.code, 0, replay.stderr);
      const replayed = await statusUntil(
        id,
        (s) => s.approvals.refused.filter((r) => r.via === 'signal').length >= 2,
      );
      assert.equal(replayed.approvals.received.length, 1);
    });

    it("refuses at submit a change outside its scope or not its requester's, and the workflow refuses it too", async () => {
      const id = uniqueChangeId('CHG');
      const file = await writeRequest(
        dir,
        changeRequest({
          id,
          service: 'api-gateway',
          tag: '2.8.0',
          environment: 'staging',
          namespace: 'production',
        }),
      );
      const r = await runAs('alice', 'submit', file);
      expectExit(r, 3);
      assert.match(
        r.stderr,
        new RegExp(
          `^error: refused: ${id} \\(environment staging, namespace production\\) is outside`,
          'm',
        ),
      );
      assert.match(
        r.stderr,
        /^ {2}spec\.namespace: the change's namespace production belongs to environment production, not to staging/m,
      );
      assert.equal(r.stdout, '');
      expectExit(await run('status', id), 4);

      // Without a key too: scope is policy, whoever asks.
      expectExit(await run('submit', file), 3);

      const notMine = await writeRequest(
        dir,
        changeRequest({
          id: uniqueChangeId('CHG'),
          service: 'api-gateway',
          tag: '2.8.1',
          requestedBy: 'bob',
        }),
      );
      const forged = await runAs('alice', 'submit', notMine);
      expectExit(forged, 3);
      assert.match(forged.stderr, /is alice's, but CHG-\d+ says requestedBy bob/);
      const noKey = await run('submit', notMine);
      expectExit(noKey, 2);
      assert.match(noKey.stderr, /--key: .*identity\.mode: signed/);

      // Around the CLI's check: started directly, with a valid submission, it ends rejected
      // before any lock, backup or rollout.
      const request = parseChangeRequest(await readFile(file, 'utf8'));
      const submission = await signStatement(
        newStatement({
          changeId: id,
          requestDigest: requestDigest(request),
          action: 'submit',
          args: {},
          person: 'alice',
        }),
        stack!.keys.alice!.path,
        { write: () => true },
      );
      await startChange(client, request, {
        taskQueue: stack!.env.CHANGECTL_TASK_QUEUE!,
        submission,
      });
      const ended = await statusUntil(id, (s) => s.state === 'rejected');
      assert.equal(ended.backup.name, undefined);
      assert.equal(ended.rollout.result, undefined);
      assert.match(JSON.stringify([ended.outcome, ended.timeline]), /namespace production/);
    });

    it('refuses a standard change that does not fit its template', async () => {
      const id = uniqueChangeId('STD');
      const file = await writeRequest(
        dir,
        changeRequest({
          id,
          service: 'auth-service',
          tag: '2.9.0',
          type: 'standard',
          standard: 'staging-config',
          environment: 'staging',
          namespace: 'staging',
        }),
      );
      const r = await runAs('alice', 'submit', file);
      expectExit(r, 3);
      assert.match(r.stderr, /environment staging, namespace staging/);
      assert.match(
        r.stderr,
        /^ {2}spec\.rollout\.image: standard change 'staging-config' changes manifests of kinds ConfigMap, not the image/m,
      );
      expectExit(await run('status', id), 4);

      const unknownTemplate = await writeRequest(
        dir,
        changeRequest({
          id: uniqueChangeId('STD'),
          service: 'auth-service',
          tag: '2.9.1',
          type: 'standard',
          standard: 'anything-goes',
        }),
      );
      const claimed = await runAs('alice', 'submit', unknownTemplate);
      expectExit(claimed, 3);
      assert.match(
        claimed.stderr,
        /spec\.standard: standard change 'anything-goes' is not in the policy/,
      );
    });

    it('exits 4 for an unknown change and 5 when Temporal is unreachable', async () => {
      const missing = uniqueChangeId('CHG');
      const results = await Promise.all([
        run('status', missing),
        run('watch', missing),
        run('approve', missing, '--as', 'bob'),
        run('cancel', missing, '--reason', 'x'),
        run('export', missing),
      ]);
      for (const r of results) {
        expectExit(r, 4);
        assert.match(r.stderr, new RegExp(`^error: change ${missing} not found$`, 'm'));
      }
      const address = `127.0.0.1:${await closedPort()}`;
      const unreachable = await run('list', '--address', address);
      expectExit(unreachable, 5);
      assert.match(
        unreachable.stderr,
        new RegExp(`cannot reach Temporal at ${address.replace(/\./g, '\\.')}`),
      );
    });
  });

  describe('after the flows', () => {
    it('lists with filters and diagnoses what changed recently', async () => {
      const all = await list();
      assert.ok(all.length >= 5, `changes listed: ${all.length}`);
      const auth = await list('--service', 'auth-service', '--since', '1h');
      assert.ok(auth.length > 0 && auth.every((c) => c.services.includes('auth-service')));
      const rolledBack = await list('--state', 'rolled-back');
      assert.ok(rolledBack.length >= 2 && rolledBack.every((c) => c.state === 'rolled-back'));
      // Only the scope bypass started around the CLI claims staging, and it was refused.
      const staging = await list('--env', 'staging');
      assert.ok(staging.length > 0, 'the env filter finds it');
      assert.ok(
        staging.every((c) => c.environment === 'staging' && c.state === 'rejected'),
        JSON.stringify(staging),
      );

      const table = await run('list', '--service', 'api-gateway');
      expectExit(table, 0);
      assert.match(table.stdout, /^ID +TYPE +STATE +ENV +SERVICES +RISK +REQUESTED BY +STARTED$/m);

      const diagnosis = await run(
        'diagnose',
        '--service',
        'api-gateway',
        '--env',
        'production',
        '--since',
        '1h',
        '--json',
      );
      expectExit(diagnosis, 0);
      const found = JSON.parse(diagnosis.stdout) as {
        changes: ListedChange[];
        rolloutHistory: { revision: number; changeId?: string }[];
        events: { reason: string; object: string }[];
        errors: unknown[];
      };
      assert.deepEqual(found.errors, []);
      assert.ok(
        found.changes.length >= 3 && found.changes.every((c) => c.services.includes('api-gateway')),
      );
      assert.ok(
        found.rolloutHistory.some((r) => found.changes.some((c) => c.id === r.changeId)),
        'a revision names its change',
      );
      assert.ok(
        found.events.some(
          (e) =>
            e.object.startsWith('Deployment/api-gateway') ||
            e.object.startsWith('ReplicaSet/api-gateway'),
        ),
      );
      const text = await run('diagnose', '--service', 'api-gateway', '--env', 'production');
      expectExit(text, 0);
      assert.match(text.stdout, /^What changed recently\? api-gateway in production/);
      assert.match(text.stdout, /^Rollout history \(deployment\/api-gateway in production\)$/m);
    });

    it('prints the windows the policy allows', async () => {
      const r = await run('windows', '--service', 'api-gateway', '--json');
      expectExit(r, 0);
      const windows = JSON.parse(r.stdout) as {
        allowedNow: boolean;
        windows: { names: string[] }[];
      };
      assert.equal(windows.allowedNow, true);
      assert.deepEqual(windows.windows[0]?.names, []);
    });
  });
});
