import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../src/core/errors';
import { CliError, ExitCode } from '../../src/cli/errors';
import { executeWhenReady } from '../../src/cli/updates';
import { approveUpdate } from '../../workflows/messages';

const update = approveUpdate;
const accepted = { state: 'awaiting-approval', summary: 'needs 1 more approver' } as const;

const failure = (type: string, message: string) =>
  new WorkflowUpdateFailedError(
    'Workflow Update failed',
    ApplicationFailure.create({ type, message, nonRetryable: true }),
  );

/** A handle whose executeUpdate answers from `answers` in turn (an Error is thrown). */
function fakeHandle(answers: (typeof accepted | Error)[]): {
  handle: WorkflowHandle;
  sent: unknown[];
} {
  const sent: unknown[] = [];
  const handle = {
    executeUpdate: (_def: unknown, options: { args: unknown[] }) => {
      sent.push(options.args[0]);
      const next = answers.shift();
      if (next === undefined) throw new Error('no more answers');
      return next instanceof Error ? Promise.reject(next) : Promise.resolve(next);
    },
  } as unknown as WorkflowHandle;
  return { handle, sent };
}

describe('executeWhenReady', () => {
  it('sends the same update again while the change is not ready, then returns its answer', async () => {
    const notReady = () => failure(FailureType.NotReady, 'the change is still loading its policy');
    const { handle, sent } = fakeHandle([notReady(), notReady(), accepted]);
    assert.deepEqual(await executeWhenReady('CHG-1', handle, update, { actor: 'dave' }), accepted);
    assert.deepEqual(sent, [{ actor: 'dave' }, { actor: 'dave' }, { actor: 'dave' }]);
  });

  it('never sends a refused update again', async () => {
    const refused = failure(FailureType.Refused, 'dave already approved');
    const { handle, sent } = fakeHandle([refused, accepted]);
    await assert.rejects(executeWhenReady('CHG-1', handle, update, { actor: 'dave' }), refused);
    assert.equal(sent.length, 1);
  });

  it('fails with what it waited for once the wait is over', async () => {
    const answers = Array.from({ length: 20 }, () =>
      failure(FailureType.NotReady, 'the change is still loading its policy'),
    );
    const { handle, sent } = fakeHandle(answers);
    await assert.rejects(
      executeWhenReady('CHG-7', handle, update, { actor: 'dave' }, 500),
      (err) => {
        assert.ok(err instanceof CliError);
        assert.equal(err.exitCode, ExitCode.Failed);
        assert.match(
          err.message,
          /^change CHG-7 is not ready after \d+ s: .*still loading its policy/,
        );
        return true;
      },
    );
    assert.ok(sent.length >= 2 && sent.length < 20, `sent ${sent.length} times`);
  });
});
