/**
 * Replays the recorded histories in test/fixtures/histories against the current workflow code,
 * so a change that breaks determinism (a new, removed or reordered activity, timer, signal or
 * state change on a path that running changes may be on) fails here instead of in production.
 *
 * When a replay fails, the workflow change is the bug: a change already in flight would fail
 * its next workflow task the same way. Re-record only when a change is deliberately incompatible
 * and guarded by `patched('<id>')` (later `deprecatePatch`) or a new workflow type, or when a
 * path is added; never just to make this test pass. Before re-recording a patched path, copy its
 * fixture to a new name (`planned-completed.before-<patch-id>.json`: every JSON file in the
 * folder is replayed) and keep it until no run from before the patch can exist. Then:
 *
 *   npm run record-histories                        # every path
 *   npm run record-histories -- planned-completed   # only the named ones
 *
 * A rerun with unchanged workflow code changes only ids and times in the fixtures.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { defaultPayloadConverter } from '@temporalio/common';
import { Worker } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { changeWorkflowId } from '../../src/core/change/request';
import type { ChangeInput } from '../../src/core/lifecycle/status';
import { historyFromJson, type History } from '../helpers/history-json';
import { workflowBundle } from '../helpers/temporal';

const workflowsPath = fileURLToPath(new URL('../../workflows/index.ts', import.meta.url));
const brokenWorkflowsPath = fileURLToPath(
  new URL('../fixtures/nondeterministic-workflows.ts', import.meta.url),
);
const historiesDir = fileURLToPath(new URL('../fixtures/histories/', import.meta.url));

/** The paths scripts/record-histories.ts records; each must have its fixture. */
const recordedPaths = [
  'planned-completed',
  'planned-rolled-back',
  'planned-cancelled',
  'planned-blue-green-completed',
  'planned-canary-completed',
  'emergency-completed',
  'emergency-undocumented',
];

const fixtures = readdirSync(historiesDir)
  .filter((file) => file.endsWith('.json'))
  .map((file) => file.slice(0, -'.json'.length))
  .sort();

async function loadHistory(name: string): Promise<History> {
  const text = await readFile(`${historiesDir}${name}.json`, 'utf8');
  return historyFromJson(JSON.parse(text));
}

/** Histories carry no workflow id; a change's id follows from the request it started with. */
function workflowIdOf(history: History): string {
  const payload =
    history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  assert.ok(payload, 'the history starts with the workflow input');
  const input = defaultPayloadConverter.fromPayload<ChangeInput>(payload);
  const { metadata } = input.request as { metadata: { id: string } };
  return changeWorkflowId(metadata.id);
}

describe('replay of recorded histories', () => {
  it('has a fixture for every recorded path', () => {
    const missing = recordedPaths.filter((name) => !fixtures.includes(name));
    assert.deepEqual(
      missing,
      [],
      `record them with: npm run record-histories -- ${missing.join(' ')}`,
    );
  });

  for (const name of fixtures) {
    it(`replays ${name} against the current workflows`, async () => {
      const history = await loadHistory(name);
      await Worker.runReplayHistory(
        { workflowBundle: await workflowBundle(workflowsPath), replayName: name },
        history,
        workflowIdOf(history),
      );
    });
  }

  it('fails with a DeterminismViolationError when plannedChange schedules an extra timer', async () => {
    const history = await loadHistory('planned-completed');
    await assert.rejects(
      Worker.runReplayHistory(
        { workflowBundle: await workflowBundle(brokenWorkflowsPath), replayName: 'broken' },
        history,
        workflowIdOf(history),
      ),
      (err: unknown) => {
        assert.ok(
          err instanceof DeterminismViolationError,
          `expected a determinism violation, got ${String(err)}`,
        );
        return true;
      },
    );
  });
});
