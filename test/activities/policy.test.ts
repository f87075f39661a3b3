import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createPolicyActivities } from '../../activities/policy';
import { FailureType } from '../../src/core/errors';
import { parsePolicy } from '../../src/load/policy';
import type { Policy } from '../../src/core/policy/schema';

const examplePolicy = fileURLToPath(new URL('../../examples/policy.yaml', import.meta.url));

/** Runs a policy loader as an activity (the SDK's `run` cannot infer an activity's result). */
function runActivity(loadPolicy: () => Promise<Policy>): Promise<Policy> {
  const env = new MockActivityEnvironment({}, { logger: new DefaultLogger('ERROR') });
  return env.run<[], Policy, typeof loadPolicy>(loadPolicy);
}

/** The activity as a plain function, as MockActivityEnvironment.run takes it. */
function policyLoaderFor(path: string): () => Promise<Policy> {
  const activities = createPolicyActivities(path);
  return () => activities.loadPolicy();
}

function isInvalidPolicy(...fragments: RegExp[]) {
  return (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure, `an ApplicationFailure, got ${String(err)}`);
    assert.equal(err.type, FailureType.InvalidPolicy);
    assert.equal(err.nonRetryable, true);
    for (const fragment of fragments) assert.match(err.message, fragment);
    return true;
  };
}

describe('loadPolicy', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'changectl-policy-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads and validates the configured policy file', async () => {
    const loadPolicy = policyLoaderFor(examplePolicy);
    const policy = await runActivity(loadPolicy);
    assert.deepEqual(policy, parsePolicy(await readFile(examplePolicy, 'utf8')));
    assert.equal(policy.metadata.name, 'platform-default');
  });

  it('reads the file again on every call, so an edit applies to the next change', async () => {
    const path = join(dir, 'edited.yaml');
    await copyFile(examplePolicy, path);
    const loadPolicy = policyLoaderFor(path);
    assert.equal((await runActivity(loadPolicy)).metadata.name, 'platform-default');
    const text = await readFile(examplePolicy, 'utf8');
    await writeFile(path, text.replace('name: platform-default', 'name: platform-edited'));
    assert.equal((await runActivity(loadPolicy)).metadata.name, 'platform-edited');
  });

  it('fails non-retryably with every bad field when the policy does not validate', async () => {
    const path = join(dir, 'invalid.yaml');
    const text = await readFile(examplePolicy, 'utf8');
    await writeFile(
      path,
      text
        .replace("schedule: '0 2 * * 2,4'", "schedule: 'at two'")
        .replace('minApprovers: 2 }', 'minApprovers: -1 }'),
    );
    const loadPolicy = policyLoaderFor(path);
    await assert.rejects(
      runActivity(loadPolicy),
      isInvalidPolicy(/spec\.windows\[0\]\.schedule/, /minApprovers/, /2 problems/),
    );
  });

  it('fails non-retryably on YAML that does not parse', async () => {
    const path = join(dir, 'broken.yaml');
    await writeFile(path, 'apiVersion: changectl/v1\nspec: [unclosed\n');
    const loadPolicy = policyLoaderFor(path);
    await assert.rejects(runActivity(loadPolicy), isInvalidPolicy(/line \d+/));
  });

  it('fails non-retryably when the file is missing', async () => {
    const path = join(dir, 'missing.yaml');
    const loadPolicy = policyLoaderFor(path);
    await assert.rejects(runActivity(loadPolicy), isInvalidPolicy(/file not found/));
  });
});
