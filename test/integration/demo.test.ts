import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { projectRoot } from '../../src/stack/tools';

const DEMO_TIMEOUT_MS = 10 * 60_000;
/** After SIGTERM the demo stops its stack (the worker drains first); then it is killed. */
const STOP_GRACE_MS = 60_000;

interface DemoRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
}

/** `npm run demo -- --exit` as CI runs it, with its own state folder and both streams kept. */
function runDemo(stateDir: string): Promise<DemoRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'scripts/demo.ts', '--exit', '--state-dir', stateDir],
      {
        cwd: projectRoot,
        env: { ...process.env, NO_COLOR: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    let kill: NodeJS.Timeout | undefined;
    const timeout = setTimeout(() => {
      output += `\n[test] demo still running after ${DEMO_TIMEOUT_MS} ms: SIGTERM\n`;
      child.kill('SIGTERM');
      kill = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    }, DEMO_TIMEOUT_MS);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timeout);
      clearTimeout(kill);
      resolve({ code, signal, output });
    });
  });
}

describe('npm run demo -- --exit', () => {
  let dir: string;
  let run: DemoRun;

  before(
    async () => {
      dir = await mkdtemp(join(tmpdir(), 'changectl-demo-'));
      run = await runDemo(join(dir, 'state'));
    },
    { timeout: DEMO_TIMEOUT_MS + 2 * STOP_GRACE_MS },
  );

  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('tells the whole story and exits 0', () => {
    assert.equal(run.code, 0, run.output);
    assert.match(
      run.output,
      /✓ demo complete: CHG-\d+ completed, CHG-\d+ rolled back automatically/,
    );
  });

  it('prints each command before it runs, through the real CLI', () => {
    for (const command of ['windows', 'submit', 'approve', 'watch', 'export', 'drift', 'report']) {
      assert.match(run.output, new RegExp(`^\\$ changectl ${command} `, 'm'), command);
    }
  });

  it('shows the self-approval refused with its reason', () => {
    assert.match(
      run.output,
      /^\$ changectl approve (CHG-\d+) --as alice\nerror: refused: self-approval: alice requested this change\n✓ self-approval refused by policy \(exit 3\)$/m,
    );
  });

  it('has the first change wait for its window, then complete', () => {
    const completed = /^✓ change (CHG-\d+) ended: completed/m.exec(run.output);
    assert.ok(completed, run.output);
    assert.match(
      run.output,
      /▸ scheduled — waiting for the start at .*outside allow window 'demo-maintenance'/,
    );
    assert.doesNotMatch(run.output, /waiting for waiting/);
    for (const event of ['backup completed', 'rollout complete', 'watch passed']) {
      assert.match(run.output, new RegExp(`changectl +${event}`), event);
    }
  });

  it('rolls the erroring change back automatically and finds the service healthy again', () => {
    const completed = /^✓ change (CHG-\d+) ended: completed/m.exec(run.output)?.[1];
    const rolledBack =
      /^error: change (CHG-\d+) ended: rolled back: verification failed: error-rate/m.exec(
        run.output,
      )?.[1];
    assert.ok(rolledBack, run.output);
    assert.notEqual(rolledBack, completed);
    assert.match(run.output, /changectl +after rollback: passed/);
    assert.doesNotMatch(run.output, /not confirmed healthy/);
  });

  it('prints both change logs and the Temporal UI link', () => {
    assert.equal(run.output.match(/^# Change log CHG-\d+$/gm)?.length, 2, run.output);
    assert.match(run.output, /^Temporal Web UI: http:\/\/127\.0\.0\.1:\d+$/m);
    assert.match(
      run.output,
      /^ {2}CHG-\d+: http:\/\/127\.0\.0\.1:\d+\/namespaces\/default\/workflows\/change-CHG-\d+$/m,
    );
  });

  it('stops the stack it started', () => {
    assert.equal(existsSync(join(dir, 'state', 'dev.pid')), false, 'lock file removed');
    assert.equal(existsSync(join(dir, 'state', 'dev.env')), false, 'dev.env removed');
  });
});
