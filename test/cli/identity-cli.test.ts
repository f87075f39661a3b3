import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { runCli } from '../../src/cli/program';
import { ExitCode } from '../../src/cli/errors';
import { requestDigest, type SignedStatement } from '../../src/core/identity/statement';
import { verifyStatement } from '../../src/core/identity/verify';
import type { ChangeLogEvidence } from '../../src/core/identity/evidence';
import { loadChangeRequestFile } from '../../src/load/change';
import { loadPolicyFile } from '../../src/load/policy';
import { projectRoot } from '../../src/stack/tools';
import { KeyFolder, type TestKey } from '../helpers/ssh-keys';
import { captureIo } from './fixtures';

const run = promisify(execFile);
const requestFile = join(projectRoot, 'examples/normal-rolling.yaml');

async function cli(args: string[], env: Record<string, string | undefined> = {}) {
  const io = captureIo({ env });
  const code = await runCli(args, io);
  return { code, stdout: io.stdoutText(), stderr: io.stderrText() };
}

/** The real binary, as an auditor runs it. */
function spawnCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['bin/changectl.js', ...args],
      { cwd: projectRoot, env: { ...process.env, NO_COLOR: '1' }, timeout: 60_000 },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? -1) : 0, stdout, stderr }),
    );
  });
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  assert.ok(address && typeof address === 'object');
  return address.port;
}

describe('changectl whoami, sign and verify', () => {
  let folder: KeyFolder;
  let keys: Record<'alice' | 'bob' | 'carol' | 'dan', TestKey>;
  let policyPath: string;
  let digest: string;

  before(async () => {
    folder = await KeyFolder.create();
    const [alice, bob, carol, dan] = await Promise.all([
      folder.key('alice'),
      folder.key('bob', 'ecdsa'),
      folder.key('carol'),
      folder.key('dan'),
    ]);
    keys = { alice: alice, bob: bob, carol: carol, dan: dan };
    const policy = parse(await readFile(join(projectRoot, 'examples/policy.yaml'), 'utf8')) as {
      spec: { people: Record<string, { keys?: string[] }> };
    };
    for (const person of ['alice', 'bob', 'carol'] as const) {
      policy.spec.people[person]!.keys = [keys[person].publicLine];
    }
    policyPath = join(folder.dir, 'policy.yaml');
    await writeFile(policyPath, stringify(policy));
    digest = requestDigest(await loadChangeRequestFile(requestFile));
  });
  after(() => folder.close());

  it('whoami names the person a key is, from the private key, its .pub or CHANGECTL_KEY', async () => {
    const r = await cli(['whoami', '--key', keys.alice.path, '--policy', policyPath]);
    assert.equal(r.code, ExitCode.Ok, r.stderr);
    assert.equal(
      r.stdout,
      `alice (Alice Martin): ssh-ed25519 ${keys.alice.fingerprint} alice@test\n`,
    );
    const pub = await cli(['whoami', '--json'], {
      CHANGECTL_KEY: `${keys.bob.path}.pub`,
      CHANGECTL_POLICY: policyPath,
    });
    assert.equal(pub.code, ExitCode.Ok, pub.stderr);
    assert.deepEqual(JSON.parse(pub.stdout), {
      person: 'bob',
      fingerprint: keys.bob.fingerprint,
      keyType: 'ecdsa-sha2-nistp256',
      identityMode: 'signed',
    });
  });

  it("whoami refuses (exit 3) a key no one has, and an --as that is not the key's owner", async () => {
    const unknown = await cli(['whoami', '--key', keys.dan.path, '--policy', policyPath]);
    assert.equal(unknown.code, ExitCode.Refused);
    assert.match(
      unknown.stderr,
      new RegExp(`key ${escape(keys.dan.fingerprint)} is no one's in policy platform-default`),
    );
    const forged = await cli([
      'whoami',
      '--key',
      keys.dan.path,
      '--policy',
      policyPath,
      '--as',
      'bob',
    ]);
    assert.equal(forged.code, ExitCode.Refused);
    const other = await cli([
      'whoami',
      '--key',
      keys.carol.path,
      '--policy',
      policyPath,
      '--as',
      'bob',
    ]);
    assert.equal(other.code, ExitCode.Refused);
    assert.match(other.stderr, /--as bob, but key SHA256:\S+ is carol's/);
  });

  it('whoami and sign need a key and say how to give one (exit 2)', async () => {
    const whoami = await cli(['whoami', '--policy', policyPath]);
    assert.equal(whoami.code, ExitCode.InvalidInput);
    assert.match(whoami.stderr, /--key: pass --key <file> or set CHANGECTL_KEY/);
    const missing = await cli([
      'whoami',
      '--key',
      join(folder.dir, 'nope'),
      '--policy',
      policyPath,
    ]);
    assert.equal(missing.code, ExitCode.InvalidInput);
    assert.match(missing.stderr, /--key: no such file/);
    const notKey = await cli(['whoami', '--key', policyPath, '--policy', policyPath]);
    assert.equal(notKey.code, ExitCode.InvalidInput);
    assert.match(
      notKey.stderr,
      /--key: .*policy\.yaml: expected an OpenSSH public key line|unsupported key type/,
    );
  });

  it('sign prints a statement the workflow accepts, as the person the key is', async () => {
    const r = await cli([
      'sign',
      'approve',
      'CHG-1234',
      'comment=reviewed the diff',
      '--key',
      keys.bob.path,
      '--policy',
      policyPath,
      '--digest',
      digest,
    ]);
    assert.equal(r.code, ExitCode.Ok, r.stderr);
    const signed = JSON.parse(r.stdout) as SignedStatement;
    assert.equal(r.stdout.trim().split('\n').length, 1, 'one line, for --input');
    assert.equal(signed.statement.person, 'bob');
    assert.deepEqual(signed.statement.args, { comment: 'reviewed the diff' });
    assert.match(r.stderr, /temporal workflow signal --workflow-id change-CHG-1234 --name approve/);
    assert.doesNotMatch(r.stdout + r.stderr, /PRIVATE KEY/);
    const policy = await loadPolicyFile(policyPath);
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

  it('sign takes the digest from the request file reviewed, and JSON arguments with :=', async () => {
    const r = await cli([
      'sign',
      'rollback',
      'CHG-1234',
      'reason=error rate',
      'restoreBackup:=true',
      '--key',
      keys.carol.path,
      '--request',
      requestFile,
      '--as',
      'carol',
    ]);
    assert.equal(r.code, ExitCode.Ok, r.stderr);
    const signed = JSON.parse(r.stdout) as SignedStatement;
    assert.equal(signed.statement.requestDigest, digest);
    assert.deepEqual(signed.statement.args, { reason: 'error rate', restoreBackup: true });
    assert.equal(signed.statement.person, 'carol');
  });

  it('sign uses a passphrase key held by ssh-agent, given its .pub', async (t) => {
    const agent = await startAgent();
    t.after(() => agent.stop());
    const path = join(folder.dir, 'locked');
    await run('ssh-keygen', [
      '-q',
      '-t',
      'ed25519',
      '-N',
      'correct horse',
      '-C',
      'locked@test',
      '-f',
      path,
    ]);
    await run('ssh-add', [path], {
      env: {
        ...process.env,
        SSH_AUTH_SOCK: agent.socket,
        SSH_ASKPASS: await askpass('correct horse'),
        SSH_ASKPASS_REQUIRE: 'force',
      },
    });
    const line = (await readFile(`${path}.pub`, 'utf8')).trim();
    const r = await cli(
      [
        'sign',
        'cancel',
        'CHG-1234',
        'reason=not needed',
        '--key',
        `${path}.pub`,
        '--as',
        'dave',
        '--digest',
        digest,
      ],
      { SSH_AUTH_SOCK: agent.socket },
    );
    assert.equal(r.code, ExitCode.Ok, r.stderr);
    const verdict = verifyStatement(JSON.parse(r.stdout), {
      policyPeople: { dave: { keys: [line] } },
      changeId: 'CHG-1234',
      requestDigest: digest,
      action: 'cancel',
      now: Date.now(),
      usedNonces: new Set(),
    });
    assert.ok(verdict.ok, JSON.stringify(verdict));
    const noAgent = await cli(
      [
        'sign',
        'cancel',
        'CHG-1234',
        'reason=x',
        '--key',
        `${path}.pub`,
        '--as',
        'dave',
        '--digest',
        digest,
      ],
      { SSH_AUTH_SOCK: join(folder.dir, 'no-agent') },
    );
    assert.equal(noAgent.code, ExitCode.Failed);
    assert.match(noAgent.stderr, /ssh-keygen could not sign with .*locked\.pub/);
  });

  /** A script that answers ssh-add's passphrase prompt, as a desktop's askpass would. */
  async function askpass(passphrase: string): Promise<string> {
    const path = join(folder.dir, 'askpass.sh');
    await writeFile(path, `#!/bin/sh\necho '${passphrase}'\n`, { mode: 0o700 });
    return path;
  }

  async function startAgent(): Promise<{ socket: string; stop: () => void }> {
    const socket = join(folder.dir, `agent-${Date.now()}.sock`);
    const { stdout } = await run('ssh-agent', ['-s', '-a', socket]);
    const pid = /SSH_AGENT_PID=(\d+)/.exec(stdout)?.[1];
    assert.ok(pid, stdout);
    return {
      socket,
      stop: () => process.kill(Number(pid)),
    };
  }

  it('sign refuses bad input before it signs or contacts anyone', async () => {
    const action = await cli([
      'sign',
      'approv',
      'CHG-1234',
      '--key',
      keys.bob.path,
      '--digest',
      digest,
    ]);
    assert.equal(action.code, ExitCode.InvalidInput);
    assert.match(action.stderr, /<action>: expected one of submit, approve, reject/);
    const args = await cli([
      'sign',
      'extend',
      'CHG-1234',
      'duration=forever',
      'x',
      'by:={',
      '--digest',
      digest,
    ]);
    assert.equal(args.code, ExitCode.InvalidInput);
    assert.match(args.stderr, /\[args\]: expected key=value or key:=<json>, got "x"/);
    assert.match(args.stderr, /by: expected JSON after ':='/);
    assert.match(args.stderr, /duration: expected a duration/);
    const digestFlag = await cli([
      'sign',
      'approve',
      'CHG-1234',
      '--key',
      keys.bob.path,
      '--digest',
      'abc',
    ]);
    assert.equal(digestFlag.code, ExitCode.InvalidInput);
    assert.match(
      digestFlag.stderr,
      /--digest: expected the request digest: 64 lowercase hex digits/,
    );
    const otherFile = await cli([
      'sign',
      'approve',
      'CHG-9',
      '--key',
      keys.bob.path,
      '--request',
      requestFile,
    ]);
    assert.equal(otherFile.code, ExitCode.InvalidInput);
    assert.match(otherFile.stderr, /--request: .* is change CHG-1234, not CHG-9/);
    const forged = await cli([
      'sign',
      'approve',
      'CHG-1234',
      '--key',
      keys.dan.path,
      '--as',
      'bob',
      '--policy',
      policyPath,
      '--digest',
      digest,
    ]);
    assert.equal(forged.code, ExitCode.Refused);
  });

  it('sign without a digest asks the change, and says when Temporal cannot be reached', async () => {
    const port = await closedPort();
    const r = await cli([
      'sign',
      'approve',
      'CHG-1234',
      '--key',
      keys.bob.path,
      '--address',
      `127.0.0.1:${port}`,
    ]);
    assert.equal(r.code, ExitCode.Unreachable, r.stderr);
  });

  it('verify passes an exported log signed through the CLI, and fails it after one byte changes', async () => {
    const sign = async (person: 'alice' | 'bob' | 'carol', action: string, args: string[] = []) => {
      const r = await cli([
        'sign',
        action,
        'CHG-1234',
        ...args,
        '--key',
        keys[person].path,
        '--policy',
        policyPath,
        '--request',
        requestFile,
      ]);
      assert.equal(r.code, ExitCode.Ok, r.stderr);
      const signed = JSON.parse(r.stdout) as SignedStatement;
      return {
        action: signed.statement.action,
        person,
        at: new Date(Date.parse(signed.statement.issuedAt) + 1_000).toISOString(),
        fingerprint: keys[person].fingerprint,
        signed,
      };
    };
    const request = await loadChangeRequestFile(requestFile);
    const changeLog: ChangeLogEvidence & Record<string, unknown> = {
      id: 'CHG-1234',
      state: 'completed',
      requestDigest: digest,
      request,
      decisions: [
        await sign('alice', 'submit'),
        await sign('bob', 'approve', ['comment=ok']),
        await sign('carol', 'approve'),
      ],
    };
    const good = join(folder.dir, 'good.json');
    const text = JSON.stringify({ changeLog }, null, 2);
    await writeFile(good, text);
    const passed = await spawnCli(['verify', good, '--policy', policyPath]);
    assert.equal(passed.code, ExitCode.Ok, passed.stdout + passed.stderr);
    assert.match(
      passed.stdout,
      /request digest and 3 signed decisions valid against policy platform-default/,
    );

    // One byte of the approver's comment: 'ok' becomes 'oK'.
    const bad = join(folder.dir, 'bad.json');
    await writeFile(bad, text.replace('"comment": "ok"', '"comment": "oK"'));
    const failed = await spawnCli(['verify', bad, '--policy', policyPath]);
    assert.equal(failed.code, ExitCode.Failed, failed.stdout + failed.stderr);
    assert.match(
      failed.stdout,
      /BAD decisions\[1\] approve by bob at \S+: bad signature: the signature does not verify/,
    );
    assert.match(failed.stdout, /ok {2}decisions\[2\] approve by carol/);
    assert.match(failed.stderr, /bad\.json: 1 problem against policy platform-default/);

    const json = await cli(['verify', bad, '--policy', policyPath, '--json']);
    assert.equal(json.code, ExitCode.Failed);
    assert.equal((JSON.parse(json.stdout) as { ok: boolean }).ok, false);
  });

  it('verify needs a policy and a JSON file (exit 2)', async () => {
    const noPolicy = await cli(['verify', policyPath]);
    assert.equal(noPolicy.code, ExitCode.InvalidInput);
    assert.match(noPolicy.stderr, /--policy: pass --policy <file> or set CHANGECTL_POLICY/);
    const notJson = await cli(['verify', policyPath, '--policy', policyPath]);
    assert.equal(notJson.code, ExitCode.InvalidInput);
    assert.match(notJson.stderr, /policy\.yaml is not JSON/);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
