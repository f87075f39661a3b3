import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { runCli } from '../../src/cli/program';
import { CliError, ExitCode } from '../../src/cli/errors';
import {
  buildDecision,
  statementActionOf,
  type DecisionTarget,
  type Signer,
} from '../../src/cli/decision';
import { checkReviewedDigest, rolloutSubject } from '../../src/cli/commands/approve';
import { renderStatus } from '../../src/cli/format/status';
import { changeLogFromStatus, renderChangeLogMarkdown } from '../../src/cli/format/change-log';
import { colorsFor } from '../../src/cli/output';
import { requestDigest, type SignedStatement } from '../../src/core/identity/statement';
import { verifyStatement } from '../../src/core/identity/verify';
import type { Policy } from '../../src/core/policy/schema';
import { loadChangeRequestFile } from '../../src/load/change';
import { loadPolicyFile } from '../../src/load/policy';
import { projectRoot } from '../../src/stack/tools';
import { closedPort } from '../helpers/ports';
import { KeyFolder, type TestKey } from '../helpers/ssh-keys';
import { awaitingApprovalStatus, captureIo, rolledBackStatus } from './fixtures';

const requestFile = join(projectRoot, 'examples/normal-rolling.yaml');
const noColor = colorsFor({ write: () => true, isTTY: false }, {});

async function cli(args: string[], env: Record<string, string | undefined> = {}) {
  const io = captureIo({ env });
  const code = await runCli(args, io);
  return { code, stdout: io.stdoutText(), stderr: io.stderrText() };
}

async function refusal(promise: Promise<unknown>): Promise<CliError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof CliError, String(err));
    return err;
  }
  assert.fail('expected a CliError');
}

describe('decision payloads', () => {
  let folder: KeyFolder;
  let keys: Record<'alice' | 'bob' | 'carol', TestKey>;
  let policy: Policy;
  let policyPath: string;
  let digest: string;
  let target: DecisionTarget;

  before(async () => {
    folder = await KeyFolder.create();
    const [alice, bob, carol] = await Promise.all([
      folder.key('alice'),
      folder.key('bob', 'ecdsa'),
      folder.key('carol'),
    ]);
    keys = { alice, bob, carol };
    const raw = parse(await readFile(join(projectRoot, 'examples/policy.yaml'), 'utf8')) as {
      spec: { people: Record<string, { keys?: string[] }> };
    };
    for (const person of ['alice', 'bob'] as const) {
      raw.spec.people[person]!.keys = [keys[person].publicLine];
    }
    policyPath = join(folder.dir, 'policy.yaml');
    await writeFile(policyPath, stringify(raw));
    policy = await loadPolicyFile(policyPath);
    digest = requestDigest(await loadChangeRequestFile(requestFile));
    target = {
      id: 'CHG-1234',
      type: 'normal',
      state: 'awaiting-approval',
      requestDigest: digest,
      identityMode: 'signed',
    };
  });
  after(() => folder.close());

  const signer = (fields: Partial<Signer> = {}): Signer => ({
    user: () => 'os-user',
    stderr: { write: () => true },
    env: {},
    ...fields,
  });

  it('signs as the key owner the policy names, a statement the workflow would accept', async () => {
    const decision = await buildDecision(
      signer({ keyPath: keys.bob.path, policy }),
      target,
      'approve',
      { comment: 'lgtm' },
    );
    assert.equal(decision.person, 'bob');
    assert.equal(decision.fingerprint, keys.bob.fingerprint);
    const signed = decision.payload as SignedStatement;
    assert.deepEqual(Object.keys(signed).sort(), ['signature', 'statement']);
    assert.deepEqual(signed.statement.args, { comment: 'lgtm' });
    assert.doesNotMatch(JSON.stringify(signed), /PRIVATE KEY/);
    const verdict = verifyStatement(signed, {
      policyPeople: policy.spec.people,
      changeId: 'CHG-1234',
      requestDigest: digest,
      action: 'approve',
      now: Date.now(),
      usedNonces: new Set(),
    });
    assert.ok(verdict.ok, JSON.stringify(verdict));
  });

  it("approves an emergency change as its incident commander ('ic-approve')", async () => {
    const emergency: DecisionTarget = {
      ...target,
      type: 'emergency',
      state: 'awaiting-ic-approval',
    };
    assert.equal(statementActionOf('approve', emergency), 'ic-approve');
    assert.equal(statementActionOf('reject', emergency), 'reject');
    assert.equal(statementActionOf('approve', target), 'approve');
    const decision = await buildDecision(
      signer({ keyPath: keys.alice.path, policy }),
      emergency,
      'approve',
      {},
    );
    assert.equal((decision.payload as SignedStatement).statement.action, 'ic-approve');
  });

  it("refuses (exit 3) an --as that is not the key's owner, and a key no one has", async () => {
    const forged = await refusal(
      buildDecision(signer({ keyPath: keys.alice.path, as: 'bob', policy }), target, 'cancel', {
        reason: 'x',
      }),
    );
    assert.equal(forged.exitCode, ExitCode.Refused);
    assert.match(forged.message, /--as bob, but key SHA256:\S+ is alice's/);
    const stranger = await refusal(
      buildDecision(signer({ keyPath: keys.carol.path, policy }), target, 'cancel', {
        reason: 'x',
      }),
    );
    assert.equal(stranger.exitCode, ExitCode.Refused);
    assert.match(stranger.message, /is no one's in policy platform-default/);
  });

  it('without a key, refuses before sending (exit 2) when the change takes only signed decisions', async () => {
    const missing = await refusal(buildDecision(signer(), target, 'approve', {}));
    assert.equal(missing.exitCode, ExitCode.InvalidInput);
    assert.equal(missing.issues[0]?.path, '--key');
    assert.match(missing.issues[0]?.message ?? '', /identity\.mode: signed.*CHANGECTL_KEY/);

    // Before the change has loaded its policy, the policy at hand says how it identifies people.
    const loading = { ...target, identityMode: undefined };
    const early = await refusal(buildDecision(signer({ policy }), loading, 'approve', {}));
    assert.equal(early.exitCode, ExitCode.InvalidInput);
  });

  it('without a key, sends the stated name where the policy trusts names', async () => {
    const names: DecisionTarget = { ...target, identityMode: 'names' };
    const decision = await buildDecision(
      signer({ as: 'bob', user: () => 'bob' }),
      names,
      'rollback',
      {
        reason: 'errors',
        restoreBackup: true,
      },
    );
    assert.deepEqual(decision.payload, { actor: 'bob', reason: 'errors', restoreBackup: true });
    assert.equal(decision.fingerprint, undefined);
  });

  it('says when the change carries no digest to bind a statement to', async () => {
    const old = await refusal(
      buildDecision(
        signer({ keyPath: keys.bob.path, policy }),
        { ...target, requestDigest: undefined },
        'approve',
        {},
      ),
    );
    assert.equal(old.exitCode, ExitCode.Failed);
    assert.match(old.message, /carries no request digest/);
  });

  it('approve --digest refuses (exit 3) a change that is not the one reviewed', () => {
    const status = { ...awaitingApprovalStatus(), requestDigest: digest };
    checkReviewedDigest(status, digest.slice(0, 8));
    checkReviewedDigest(status, undefined);
    assert.throws(
      () => checkReviewedDigest(status, digest.startsWith('0') ? '1234' : '0000'),
      (err: unknown) =>
        err instanceof CliError &&
        err.exitCode === ExitCode.Refused &&
        /does not start with --digest .*not the change you reviewed/.test(err.message),
    );
    assert.throws(
      () => checkReviewedDigest(awaitingApprovalStatus(), 'abcd'),
      (err: unknown) => err instanceof CliError && err.exitCode === ExitCode.Refused,
    );
  });

  it('says what an approval is for: the image, or how many manifests', () => {
    const status = awaitingApprovalStatus();
    assert.equal(rolloutSubject(status, {}), 'image registry.example.com/api-gateway:2.5.0');
    const manifests = { ...status, rollout: { ...status.rollout, image: undefined } };
    assert.equal(
      rolloutSubject(manifests, { manifests: 3 }),
      '3 manifests to deployment/api-gateway',
    );
    assert.equal(
      rolloutSubject(manifests, { manifests: 1 }),
      '1 manifest to deployment/api-gateway',
    );
  });

  it('status shows the request digest, the key of each approval and UNVERIFIED names', () => {
    const base = awaitingApprovalStatus();
    const status = {
      ...base,
      requestDigest: digest,
      identityMode: 'names' as const,
      approvals: {
        ...base.approvals,
        received: [
          { by: 'bob', at: '2026-12-01T01:05:00.000Z', fingerprint: keys.bob.fingerprint },
          { by: 'carol', at: '2026-12-01T01:06:00.000Z', unverified: true as const },
        ],
      },
    };
    const text = renderStatus(status, noColor, new Date('2026-12-01T01:30:00Z')).join('\n');
    assert.match(text, new RegExp(`^request +${digest}$`, 'm'));
    assert.match(
      text,
      /^identity +names trusted \(identity\.mode: names\): decisions are UNVERIFIED$/m,
    );
    assert.ok(text.includes(`signed ${keys.bob.fingerprint}`), text);
    assert.match(text, /✓ +carol .*UNVERIFIED/);
  });

  it('the Markdown change log names the request digest and the key behind each decision', () => {
    const log = {
      ...changeLogFromStatus(rolledBackStatus()),
      requestDigest: digest,
      decisions: [
        {
          action: 'submit' as const,
          person: 'alice',
          at: '2026-12-01T01:00:00.000Z',
          fingerprint: keys.alice.fingerprint,
        },
        { action: 'approve' as const, person: 'bob', at: '2026-12-01T01:05:00.000Z' },
      ],
    };
    const md = renderChangeLogMarkdown(log);
    assert.ok(md.includes(`- **request digest:** ${digest}\n`), md);
    assert.match(md, /^## Decisions$/m);
    assert.ok(
      md.includes(`| submit | alice | 2026-12-01 01:00:00Z | ${keys.alice.fingerprint} |`),
      md,
    );
    assert.match(md, /^\| approve \| bob \| [^|]+ \| UNVERIFIED \|$/m);
  });

  describe('submit, checked against the policy at hand before anything starts', () => {
    let address: string;
    before(async () => {
      address = `127.0.0.1:${await closedPort()}`;
    });

    const writeRequest = async (name: string, edit: (r: Record<string, unknown>) => void) => {
      const request = parse(await readFile(requestFile, 'utf8')) as Record<string, unknown>;
      edit(request);
      const path = join(folder.dir, name);
      await writeFile(path, stringify(request));
      return path;
    };
    const spec = (r: Record<string, unknown>) => r.spec as Record<string, unknown>;

    it('refuses (exit 3) a change outside its environment, naming environment and namespace', async () => {
      const file = await writeRequest('bypass.yaml', (r) => {
        spec(r).environment = 'staging';
      });
      const r = await cli(['submit', file, '--address', address, '--policy', policyPath], {
        CHANGECTL_KEY: keys.alice.path,
      });
      assert.equal(r.code, ExitCode.Refused, r.stderr);
      assert.match(
        r.stderr,
        /^error: refused: CHG-1234 \(environment staging, namespace production\) is outside what policy platform-default allows; nothing was started:$/m,
      );
      assert.match(
        r.stderr,
        /^ {2}spec\.namespace: the change's namespace production belongs to environment production, not to staging/m,
      );
      assert.match(r.stderr, /^ {2}spec\.backup\.velero\.includeNamespaces\[0\]: /m);
    });

    it('refuses (exit 3) a standard change that does not fit its template', async () => {
      const file = await writeRequest('standard.yaml', (r) => {
        Object.assign(spec(r), { type: 'standard', standard: 'config-tuning' });
      });
      const r = await cli(['submit', file, '--address', address, '--policy', policyPath], {
        CHANGECTL_KEY: keys.alice.path,
      });
      assert.equal(r.code, ExitCode.Refused, r.stderr);
      assert.match(
        r.stderr,
        /spec\.rollout\.image: standard change 'config-tuning' changes manifests/,
      );
    });

    it('refuses (exit 3) a request signed by someone other than its requester', async () => {
      const r = await cli(['submit', requestFile, '--address', address], {
        CHANGECTL_KEY: keys.bob.path,
        CHANGECTL_POLICY: policyPath,
      });
      assert.equal(r.code, ExitCode.Refused, r.stderr);
      assert.match(r.stderr, /key SHA256:\S+ is bob's, but CHG-1234 says requestedBy alice/);
    });

    it('needs a key (exit 2) where the policy takes only signed changes', async () => {
      const r = await cli(['submit', requestFile, '--address', address, '--policy', policyPath]);
      assert.equal(r.code, ExitCode.InvalidInput, r.stderr);
      assert.match(r.stderr, /--key: policy platform-default takes only signed changes/);
    });

    it('signs as the requester and only then contacts Temporal', async () => {
      const r = await cli(['submit', requestFile, '--address', address, '--policy', policyPath], {
        CHANGECTL_KEY: keys.alice.path,
      });
      assert.equal(r.code, ExitCode.Unreachable, r.stderr);
    });
  });

  it('decide takes proceed or rollback (exit 2 otherwise)', async () => {
    const r = await cli(['decide', 'CHG-1', 'maybe']);
    assert.equal(r.code, ExitCode.InvalidInput);
    assert.match(r.stderr, /<decision>: expected 'proceed' or 'rollback', got "maybe"/);
  });
});
