import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { CommanderError } from 'commander';
import { ServiceError, WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { ValidationError } from '../../src/core/change/validation';
import { changeListQuery } from '../../src/cli/commands/list';
import { resolveIdentity } from '../../src/cli/context';
import { ExitCode, reportFailure } from '../../src/cli/errors';
import { changeLogFromStatus, renderChangeLogMarkdown } from '../../src/cli/format/change-log';
import { renderChangeList, type ChangeListEntry } from '../../src/cli/format/list';
import { renderStatus, waitingFor } from '../../src/cli/format/status';
import { relativeTime, formatTime } from '../../src/cli/format/text';
import { colorsFor, Printer } from '../../src/cli/output';
import { runCli } from '../../src/cli/program';
import { FailureType } from '../../src/core/errors';
import { ChangeAlreadyExistsError } from '../../src/temporal/start';
import { projectRoot } from '../../src/stack/tools';
import { closedPort } from '../helpers/ports';
import { awaitingApprovalStatus, captureIo, rolledBackStatus } from './fixtures';

const run = promisify(execFile);
const noColor = colorsFor({ write: () => true, isTTY: false }, {});
const now = new Date('2026-12-01T01:30:00Z');

async function cli(args: string[], env: Record<string, string | undefined> = {}) {
  const io = captureIo({ env });
  const code = await runCli(args, io);
  return { code, stdout: io.stdoutText(), stderr: io.stderrText() };
}

/** The real binary, as a user runs it. */
async function spawnCli(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run(process.execPath, ['bin/changectl.js', ...args], {
      cwd: projectRoot,
      env: { ...process.env, NO_COLOR: '1', ...env },
      timeout: 30_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout: string; stderr: string };
    return { code: e.code ?? -1, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('changectl flags', () => {
  it('exits 2 naming the flag when a duration does not parse', async () => {
    const r = await cli(['extend', 'CHG-1', '--by', 'forever']);
    assert.equal(r.code, ExitCode.InvalidInput);
    assert.match(r.stderr, /--by: expected a duration/);
  });

  it('exits 2 naming --not-before for a timestamp without a zone', async () => {
    const r = await cli(['reschedule', 'CHG-1', '--not-before', '2026-12-01 02:00']);
    assert.equal(r.code, ExitCode.InvalidInput);
    assert.match(r.stderr, /--not-before: expected an RFC 3339 timestamp/);
  });

  it('reports every bad flag of document at once', async () => {
    const r = await cli([
      'document',
      'CHG-1',
      '--root-cause',
      ' ',
      '--changed',
      'x',
      '--pir',
      'not a link',
    ]);
    assert.equal(r.code, ExitCode.InvalidInput);
    assert.match(r.stderr, /--root-cause: expected a non-empty text/);
    assert.match(r.stderr, /--pir: expected an http\(s\) link/);
  });

  it('exits 2 for a change id that is not one', async () => {
    const r = await cli(['status', 'chg_12']);
    assert.equal(r.code, ExitCode.InvalidInput);
    assert.match(r.stderr, /<id>: expected a change id like 'CHG-1234', got "chg_12"/);
  });

  it('exits 2 for an unknown state, naming the states there are', async () => {
    const r = await cli(['list', '--state', 'stuck']);
    assert.equal(r.code, ExitCode.InvalidInput);
    assert.match(r.stderr, /--state: expected one of .*awaiting-approval.*rolled-back/);
  });

  it('exits 2 for commander usage errors: missing option, unknown option, unknown command', async () => {
    const missing = await cli(['reject', 'CHG-1']);
    assert.equal(missing.code, ExitCode.InvalidInput);
    assert.match(missing.stderr, /required option '--reason <text>' not specified/);
    const unknown = await cli(['status', 'CHG-1', '--colour']);
    assert.equal(unknown.code, ExitCode.InvalidInput);
    assert.match(unknown.stderr, /unknown option '--colour'/);
    const command = await cli(['aprove', 'CHG-1']);
    assert.equal(command.code, ExitCode.InvalidInput);
    assert.match(command.stderr, /unknown command 'aprove'.*\n.*approve/);
  });

  it('exits 0 for --help and --version', async () => {
    const help = await cli(['--help']);
    assert.equal(help.code, ExitCode.Ok);
    assert.match(help.stdout, /Usage: changectl/);
    assert.match(help.stdout, /diagnose/);
    const version = await cli(['--version']);
    assert.equal(version.code, ExitCode.Ok);
    assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/);
  });

  it('exits 2 for an identity that is not a user handle, before contacting anyone', async () => {
    const r = await cli(['approve', 'CHG-1', '--as', 'not a user', '--address', '127.0.0.1:1']);
    assert.equal(r.code, ExitCode.InvalidInput);
    assert.match(r.stderr, /--as: expected a user handle/);
  });

  it('exits 2 for a malformed --address, naming it', async () => {
    const r = await cli(['status', 'CHG-1', '--address', 'no port']);
    assert.equal(r.code, ExitCode.InvalidInput);
    assert.match(r.stderr, /address: expected host:port/);
  });
});

describe('changectl identity', () => {
  it('prefers --as, then CHANGECTL_USER, then the OS user', () => {
    assert.equal(resolveIdentity('bob', { CHANGECTL_USER: 'carol' }), 'bob');
    assert.equal(resolveIdentity(undefined, { CHANGECTL_USER: 'carol' }), 'carol');
    assert.equal(resolveIdentity(undefined, {}), userInfo().username);
    assert.equal(resolveIdentity(undefined, { CHANGECTL_USER: '  ' }), userInfo().username);
  });

  it('refuses a CHANGECTL_USER that is not a handle, naming the variable', () => {
    assert.throws(
      () => resolveIdentity(undefined, { CHANGECTL_USER: 'two words' }),
      (err: Error & { exitCode?: number; issues?: { path: string }[] }) =>
        err.exitCode === ExitCode.InvalidInput && err.issues?.[0]?.path === 'CHANGECTL_USER',
    );
  });
});

describe('changectl error mapping', () => {
  it('maps a refused update to 3 with the reason', () => {
    const refusal = ApplicationFailure.create({
      message: 'alice requested CHG-1 and cannot approve it',
      type: FailureType.Refused,
      nonRetryable: true,
    });
    const report = reportFailure(new WorkflowUpdateFailedError('Workflow Update failed', refusal));
    assert.equal(report.exitCode, ExitCode.Refused);
    assert.deepEqual(report.lines, ['refused: alice requested CHG-1 and cannot approve it']);
  });

  it('maps an update the workflow finds invalid to 2, and any other failed update to 1', () => {
    const invalid = ApplicationFailure.create({
      message: 'a rejection needs a reason',
      type: FailureType.InvalidRequest,
    });
    const invalidReport = reportFailure(new WorkflowUpdateFailedError('Update failed', invalid));
    assert.equal(invalidReport.exitCode, ExitCode.InvalidInput);
    assert.deepEqual(invalidReport.lines, ['a rejection needs a reason']);
    const other = ApplicationFailure.create({ message: 'boom', type: FailureType.OutsideWindow });
    assert.equal(
      reportFailure(new WorkflowUpdateFailedError('Update failed', other)).exitCode,
      ExitCode.Failed,
    );
  });

  it('maps a missing workflow to 4 naming the change', () => {
    const report = reportFailure(
      new WorkflowNotFoundError('workflow not found', 'change-CHG-9', undefined),
    );
    assert.equal(report.exitCode, ExitCode.NotFound);
    assert.deepEqual(report.lines, ['change CHG-9 not found']);
  });

  it('maps an unavailable server to 5 naming the address', () => {
    const grpc = Object.assign(new Error('14 UNAVAILABLE: No connection established'), {
      code: 14,
      details: 'No connection established',
      metadata: { get: () => [] },
    });
    const report = reportFailure(new ServiceError('Failed to query workflow', { cause: grpc }), {
      address: '10.0.0.1:7233',
    });
    assert.equal(report.exitCode, ExitCode.Unreachable);
    assert.match(report.lines[0] ?? '', /cannot reach Temporal at 10\.0\.0\.1:7233/);
  });

  it('maps a duplicate change id to 1, validation to 2 field by field, help to 0', () => {
    assert.equal(reportFailure(new ChangeAlreadyExistsError('CHG-1')).exitCode, ExitCode.Failed);
    const invalid = reportFailure(
      new ValidationError('change request x.yaml', [
        { path: 'spec.rollout.steps', message: 'a canary rollout needs steps' },
        { path: 'spec.risk', message: 'required field is missing' },
      ]),
    );
    assert.equal(invalid.exitCode, ExitCode.InvalidInput);
    assert.deepEqual(invalid.lines, [
      'change request x.yaml is invalid:',
      '  spec.rollout.steps: a canary rollout needs steps',
      '  spec.risk: required field is missing',
    ]);
    const help = new CommanderError(0, 'commander.helpDisplayed', '(outputHelp)');
    assert.equal(reportFailure(help).exitCode, ExitCode.Ok);
    const usage = new CommanderError(1, 'commander.unknownOption', 'unknown option');
    assert.equal(reportFailure(usage).exitCode, ExitCode.InvalidInput);
  });

  it('maps anything else to 1 with its message', () => {
    const report = reportFailure(new Error('disk on fire'));
    assert.equal(report.exitCode, ExitCode.Failed);
    assert.deepEqual(report.lines, ['disk on fire']);
  });
});

describe('changectl formatting', () => {
  it('puts the state first, then what the change waits for and how to move it on', () => {
    const lines = renderStatus(awaitingApprovalStatus(), noColor, now);
    assert.equal(lines[0], 'CHG-1234  Upgrade api-gateway to v2.5.0');
    assert.equal(lines[1], '[AWAITING-APPROVAL]');
    assert.match(
      lines[2] ?? '',
      /^waiting for: approval: 2 approvers, including someone from sre \(1 received\); expires 2026-12-04 01:00:00Z \(in 2d23h30m\)$/,
    );
    assert.match(lines[3] ?? '', /changectl approve CHG-1234/);
    const text = lines.join('\n');
    assert.match(
      text,
      /risk +high \(declared medium; raised by production, outside business hours\)/,
    );
    assert.match(text, /✓ +bob .*"looks good"/);
    assert.match(
      text,
      /✗ +alice .*approve refused: alice requested CHG-1234 and cannot approve it/,
    );
    assert.match(text, /window +not before 2026-12-01 02:00:00Z/);
    assert.match(text, /backup +not taken yet/);
  });

  it('shows the last 10 timeline lines and says how many there are', () => {
    const lines = renderStatus(awaitingApprovalStatus(), noColor, now);
    const heading = lines.indexOf('timeline (last 10 of 12)');
    assert.ok(heading > 0, 'timeline heading present');
    const shown = lines.slice(heading + 1);
    assert.equal(shown.length, 10);
    assert.match(shown[0] ?? '', /event-3 +detail 3$/);
    assert.match(shown[9] ?? '', /event-12 +detail 12$/);
  });

  it('shows backup, restore command, rollback and the last evaluations of a rolled-back change', () => {
    const status = rolledBackStatus();
    assert.equal(waitingFor(status, now), undefined);
    const text = renderStatus(status, noColor, now).join('\n');
    assert.match(text, /\[ROLLED-BACK\]\noutcome: error-rate above 0\.01/);
    assert.match(
      text,
      /backup +change-chg-1234 \(Completed\)\n +restore +velero restore create --from-backup change-chg-1234/,
    );
    assert.match(text, /result +revision 3 → 4; deployment "api-gateway" successfully rolled out/);
    assert.match(text, /rolled back 2026-12-01 02:19:00Z .*: error-rate > 0\.01/);
    assert.match(text, /verification +failed — error-rate failed 3 of 3 evaluations/);
    assert.match(text, /error-rate +0\.0800 +threshold 0\.0100 +failed/);
    assert.match(
      text,
      /window +not before .*; scheduled for 2026-12-01 02:00:00Z .*; until 2026-12-01 06:00:00Z; windows: prod-maintenance/,
    );
  });

  it('colours the state only on a terminal and never under NO_COLOR', () => {
    const tty = colorsFor({ write: () => true, isTTY: true }, {});
    assert.ok((renderStatus(awaitingApprovalStatus(), tty, now)[1] ?? '').includes('\u001b['));
    const noColorTty = colorsFor({ write: () => true, isTTY: true }, { NO_COLOR: '1' });
    assert.equal(noColorTty.enabled, false);
    assert.equal(noColor.enabled, false);
    assert.ok(!renderStatus(rolledBackStatus(), noColor, now).join('\n').includes('\u001b'));
  });

  it('lists changes as an aligned table with the promised columns', () => {
    const entries: ChangeListEntry[] = [
      {
        id: 'CHG-2',
        workflowId: 'change-CHG-2',
        runId: 'r2',
        type: 'emergency',
        state: 'watching',
        environment: 'production',
        services: ['api-gateway', 'auth-service'],
        risk: 'critical',
        requestedBy: 'erin',
        startedAt: '2026-12-01T03:00:00.000Z',
        executionStatus: 'RUNNING',
      },
      {
        id: 'CHG-10',
        workflowId: 'change-CHG-10',
        runId: 'r10',
        type: 'normal',
        state: 'completed',
        environment: 'staging',
        services: ['api-gateway'],
        risk: 'low',
        requestedBy: 'alice',
        startedAt: '2026-11-30T03:00:00.000Z',
        closedAt: '2026-11-30T04:00:00.000Z',
        executionStatus: 'COMPLETED',
      },
    ];
    const lines = renderChangeList(entries, noColor);
    assert.equal(lines.length, 3);
    assert.match(lines[0] ?? '', /^ID +TYPE +STATE +ENV +SERVICES +RISK +REQUESTED BY +STARTED$/);
    assert.match(
      lines[1] ?? '',
      /^CHG-2 +emergency +watching +production +api-gateway,auth-service +critical +erin +2026-12-01 03:00:00Z$/,
    );
    const column = (line: string, text: string) => line.indexOf(text);
    assert.equal(column(lines[1] ?? '', 'watching'), column(lines[0] ?? '', 'STATE'));
    assert.equal(column(lines[2] ?? '', 'alice'), column(lines[0] ?? '', 'REQUESTED BY'));
  });

  it('builds list queries from the filters', () => {
    assert.equal(changeListQuery({}), "WorkflowType IN ('plannedChange', 'emergencyChange')");
    assert.equal(
      changeListQuery({
        state: 'watching',
        service: 'api-gateway',
        env: 'production',
        since: new Date('2026-12-01T00:00:00Z'),
      }),
      "WorkflowType IN ('plannedChange', 'emergencyChange') AND ChangeState = 'watching' AND Services = 'api-gateway' AND Environment = 'production' AND StartTime >= '2026-12-01T00:00:00.000Z'",
    );
  });

  it("exports a change log in seed 000's shape with approvals, backup and timeline", () => {
    const log = changeLogFromStatus(rolledBackStatus());
    assert.equal(log.id, 'CHG-1234');
    assert.equal(log.date, '2026-12-01');
    assert.equal(log.state, 'rolled-back');
    assert.deepEqual(log.change, {
      description: 'JWT refresh optimisation, dependency updates',
      reason: 'Token refreshes cost one extra round trip per request',
      impact: 'api-gateway restarts pod by pod; no downtime expected',
      result: 'error-rate above 0.01 three times in a row; rolled back to revision 3',
    });
    assert.deepEqual(log.verification, {
      tests: 'passed: no-firing-alerts',
      results: 'failed: error-rate failed 3 of 3 evaluations',
      issues: 'rolled back: error-rate > 0.01; 2026-12-01T02:18:00.000Z error-rate failed',
    });
    const md = renderChangeLogMarkdown(log);
    const sections = [...md.matchAll(/^## (.+)$/gm)].map((m) => m[1]);
    assert.deepEqual(sections, [
      'Change',
      'Verification',
      'Approvals',
      'Window',
      'Backup',
      'Rollout',
      'Timeline',
    ]);
    assert.match(
      md,
      /^# Change log CHG-1234\n\n- \*\*id:\*\* CHG-1234\n- \*\*date:\*\* 2026-12-01\n/,
    );
    assert.match(md, /\| bob \| 2026-12-01 01:05:00Z \| looks good \|/);
    assert.match(md, /```sh\nvelero restore create --from-backup change-chg-1234\n```/);
    assert.match(md, /\| 2026-12-01 01:11:00Z \| alice \| event-12 \| detail 12 \|/);
  });

  it('says in progress for a change that has not ended', () => {
    const log = changeLogFromStatus(awaitingApprovalStatus());
    assert.equal(log.change.result, 'in progress (awaiting-approval)');
    assert.equal(log.verification.tests, 'none run yet');
    assert.match(renderChangeLogMarkdown(log), /No backup taken\./);
  });

  it('formats times in UTC and relative to now', () => {
    assert.equal(formatTime('2026-12-01T02:00:00.123Z'), '2026-12-01 02:00:00Z');
    assert.equal(relativeTime('2026-12-01T01:30:45Z', now), 'in 45s');
    assert.equal(relativeTime('2026-11-30T23:00:00Z', now), '2h30m ago');
  });
});

describe('changectl progress line', () => {
  it('is drawn and erased in place on a terminal, and never written to a pipe', () => {
    const tty = captureIo({ tty: true });
    const onTty = new Printer(tty);
    onTty.progress('⠋ watching');
    onTty.line('2026-12-01 02:00:00Z  bob  approved');
    assert.equal(
      tty.stdoutText(),
      '\r\u001b[2K⠋ watching\r\u001b[2K2026-12-01 02:00:00Z  bob  approved\n',
    );
    const pipe = captureIo({ tty: false });
    const onPipe = new Printer(pipe);
    onPipe.progress('⠋ watching');
    onPipe.line('done');
    assert.equal(pipe.stdoutText(), 'done\n');
  });
});

describe('changectl windows', () => {
  it('prints the next production windows of the example policy from a given time', async () => {
    // Monday 2026-11-30 12:00 UTC: the next Tue/Thu 02:00-06:00 windows follow.
    const r = await cli([
      'windows',
      '--policy',
      join(projectRoot, 'examples/policy.yaml'),
      '--env',
      'production',
      '--from',
      '2026-11-30T12:00:00Z',
      '--count',
      '2',
    ]);
    assert.equal(r.code, ExitCode.Ok, r.stderr);
    assert.match(r.stdout, /now: blocked/);
    assert.match(
      r.stdout,
      /2026-12-01 02:00:00Z +2026-12-01 06:00:00Z +2026-12-01 05:35:00Z +4h +prod-maintenance/,
    );
    assert.match(r.stdout, /2026-12-03 02:00:00Z +2026-12-03 06:00:00Z/);
  });

  it('prints windows as JSON with --json and takes the policy from CHANGECTL_POLICY', async () => {
    const r = await cli(
      ['windows', '--json', '--from', '2026-11-30T12:00:00Z', '--count', '1', '--needed', '1h'],
      { CHANGECTL_POLICY: join(projectRoot, 'examples/policy.yaml') },
    );
    assert.equal(r.code, ExitCode.Ok, r.stderr);
    const json = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.deepEqual(json.windows, [
      {
        start: '2026-12-01T02:00:00.000Z',
        end: '2026-12-01T06:00:00.000Z',
        latestStart: '2026-12-01T05:00:00.000Z',
        names: ['prod-maintenance'],
      },
    ]);
    assert.equal(json.allowedNow, false);
    assert.equal(json.needed, '1h');
  });

  it('exits 2 without a policy, naming --policy', async () => {
    const r = await cli(['windows']);
    assert.equal(r.code, ExitCode.InvalidInput);
    assert.match(r.stderr, /--policy: pass --policy <file> or set CHANGECTL_POLICY/);
  });
});

describe('changectl binary without a server', () => {
  let dir: string;
  let address: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'changectl-cli-'));
    address = `127.0.0.1:${await closedPort()}`;
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a malformed file with exit 2, naming the field, before connecting', async () => {
    const file = join(dir, 'canary.yaml');
    await writeFile(
      file,
      [
        'apiVersion: changectl/v1',
        'kind: ChangeRequest',
        'metadata: {id: CHG-77, title: Canary api-gateway, requestedBy: alice}',
        'spec:',
        '  type: normal',
        '  environment: staging',
        '  namespace: staging',
        '  services: [api-gateway]',
        '  description: canary without steps',
        '  impact: none',
        '  risk: low',
        '  rollout: {strategy: canary, target: {kind: Deployment, name: api-gateway}, image: "r.example.com/api-gateway:2"}',
        '  verification: {metrics: [{name: error-rate, query: up, failWhen: "> 0.01"}]}',
      ].join('\n'),
    );
    // A server that only counts connections: validation must fail before any is opened.
    let connections = 0;
    const listener = createServer((socket) => {
      connections += 1;
      socket.destroy();
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const { port } = listener.address() as AddressInfo;
    const r = await spawnCli(['submit', file, '--address', `127.0.0.1:${port}`]).finally(
      () => new Promise((resolve) => listener.close(resolve)),
    );
    assert.equal(r.code, ExitCode.InvalidInput, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `error: change request ${file} is invalid:\\n  spec\\.rollout\\.steps: a canary rollout needs steps`,
      ),
    );
    assert.equal(r.stdout, '');
    assert.equal(connections, 0, 'failed before any connection attempt');
  });

  it('exits 5 naming the address when Temporal does not answer', async () => {
    const r = await spawnCli(['status', 'CHG-1', '--address', address]);
    assert.equal(r.code, ExitCode.Unreachable, r.stderr);
    assert.match(r.stderr, new RegExp(`cannot reach Temporal at ${address.replace(/\./g, '\\.')}`));
  });
});
