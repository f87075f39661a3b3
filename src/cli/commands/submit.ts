import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import type { Connection, WorkflowHandle } from '@temporalio/client';
import { z } from 'zod';
import { loadChangeRequestFile } from '../../load/change';
import { statusQuery } from '../../../workflows/messages';
import type { ChangeRequest } from '../../core/change/request';
import {
  requestDigest,
  type SignedStatement,
  type StatementAction,
} from '../../core/identity/statement';
import { verifySubmission } from '../../core/identity/verify';
import type { ChangeState } from '../../core/lifecycle/status';
import { assessRisk } from '../../core/policy/risk';
import type { Policy } from '../../core/policy/schema';
import { checkScope } from '../../core/policy/scope';
import { checkStandardChange } from '../../core/policy/standard-changes';
import type { CliContext } from '../context';
import { policyAtHand, withPolicyOption } from '../decision';
import { CliError, ExitCode } from '../errors';
import { parseInput } from '../input';
import { workflowUiUrl } from '../links';
import { newStatement, ownerOfKey, readPublicKey, signStatement } from '../signing';

const submitInput = z.object({
  file: z.string().min(1, { error: 'expected a file path' }),
  taskQueue: z.string().min(1).optional(),
  policy: z.string().min(1).optional(),
});

/** How long `submit` waits for the workflow's first state before it reports `submitted`. */
const FIRST_STATE_WAIT_MS = 3_000;

const SUBMIT: StatementAction = 'submit';

/**
 * The state the workflow reports once its first task ran; `submitted` when no worker picked it up
 * within a few seconds (a query fails until the first workflow task has completed).
 */
async function firstState(connection: Connection, handle: WorkflowHandle): Promise<ChangeState> {
  const deadline = Date.now() + FIRST_STATE_WAIT_MS;
  while (Date.now() < deadline) {
    try {
      const status = await connection.withDeadline(deadline, () => handle.query(statusQuery));
      if (status.state !== 'submitted') return status.state;
    } catch {
      // Not answerable yet; asked again until the deadline.
    }
    await sleep(200);
  }
  return 'submitted';
}

/**
 * What the policy says the request may not do: reach outside its environment's namespaces or its
 * services, or claim a standard change it does not fit. Refused (exit 3) before anything starts;
 * the workflow checks the same again.
 */
export function checkRequestScope(request: ChangeRequest, policy: Policy, now: number): void {
  const { spec, metadata } = request;
  const risk = assessRisk(policy, request, now).level;
  const refusals = [...checkScope(request, policy), ...checkStandardChange(request, policy, risk)];
  if (refusals.length === 0) return;
  throw new CliError(
    ExitCode.Refused,
    `refused: ${metadata.id} (environment ${spec.environment}, namespace ${spec.namespace}) is outside what policy ${policy.metadata.name} allows; nothing was started:`,
    refusals.map((r) => ({ path: r.field, message: r.reason })),
  );
}

/**
 * The requester's signed submission: a `submit` statement for this very request. With a policy at
 * hand the key must be the requester's (`metadata.requestedBy`) and the signature is checked as the
 * workflow will check it.
 */
async function signSubmission(
  ctx: CliContext,
  request: ChangeRequest,
  keyPath: string,
  policy: Policy | undefined,
): Promise<{ signed: SignedStatement; fingerprint: string }> {
  const { metadata } = request;
  const key = await readPublicKey(keyPath);
  let person: string;
  if (policy) {
    person = ownerOfKey(policy.spec.people, key, ctx.options.as, policy.metadata.name).person;
  } else {
    const as = ctx.options.as;
    if (as !== undefined && as !== metadata.requestedBy) {
      throw new CliError(
        ExitCode.Refused,
        `refused: --as ${as}, but ${metadata.id} says requestedBy ${metadata.requestedBy}: the requester submits their own change`,
      );
    }
    person = metadata.requestedBy;
  }
  if (person !== metadata.requestedBy) {
    throw new CliError(
      ExitCode.Refused,
      `refused: key ${key.fingerprint} is ${person}'s, but ${metadata.id} says requestedBy ${metadata.requestedBy}: the requester submits their own change`,
    );
  }
  const statement = newStatement({
    changeId: metadata.id,
    requestDigest: requestDigest(request),
    action: SUBMIT,
    args: {},
    person,
  });
  const signed = await signStatement(statement, keyPath, ctx.io.stderr, { env: ctx.io.env });
  if (policy) {
    const verdict = verifySubmission(signed, request, {
      policyPeople: policy.spec.people,
      now: Date.now(),
      usedNonces: new Set(),
    });
    if (!verdict.ok) throw new CliError(ExitCode.Refused, `refused: ${verdict.reason}`);
  }
  return { signed, fingerprint: key.fingerprint };
}

export function submitCommand(program: Command, ctx: CliContext): void {
  withPolicyOption(
    program
      .command('submit')
      .description('validate a change request file, sign it with your key and start its change')
      .argument('<file>', 'change request (YAML or JSON)')
      .option(
        '--task-queue <queue>',
        'task queue of the changectl worker (default: CHANGECTL_TASK_QUEUE, then changectl)',
      ),
  ).action(async (file: string, raw: Record<string, unknown>) => {
    const input = parseInput(submitInput, { file, ...raw });
    // Validate before connecting: nothing is started when the file has any problem.
    const request = await loadChangeRequestFile(input.file);
    const policy = await policyAtHand(ctx, input.policy);
    if (policy) checkRequestScope(request, policy, Date.now());
    const keyPath = ctx.keyPath;
    if (!keyPath && policy?.spec.identity.mode === 'signed') {
      throw new CliError(ExitCode.InvalidInput, `no signing key for ${request.metadata.id}:`, [
        {
          path: '--key',
          message: `policy ${policy.metadata.name} takes only signed changes (identity.mode: signed): pass --key <file> or set CHANGECTL_KEY to ${request.metadata.requestedBy}'s SSH key`,
        },
      ]);
    }
    const submission = keyPath ? await signSubmission(ctx, request, keyPath, policy) : undefined;
    const digest = requestDigest(request);
    // Loaded after validation: a bad file is refused without loading the Temporal client.
    const { DEFAULT_TASK_QUEUE, startChange } = await import('../../temporal/start');
    const { client, connection, options } = await ctx.temporal();
    const handle = await startChange(client, request, {
      taskQueue: input.taskQueue ?? ctx.io.env.CHANGECTL_TASK_QUEUE ?? DEFAULT_TASK_QUEUE,
      ...(submission ? { submission: submission.signed } : {}),
    });
    const runId =
      'firstExecutionRunId' in handle && typeof handle.firstExecutionRunId === 'string'
        ? handle.firstExecutionRunId
        : (await handle.describe()).runId;
    const id = request.metadata.id;
    if (ctx.json) {
      ctx.out.json({ id, workflowId: handle.workflowId, runId, requestDigest: digest });
      return;
    }
    const state = await firstState(connection, handle);
    const { colors } = ctx.out;
    ctx.out.line(`${colors.green('✓')} change ${colors.bold(id)} submitted`);
    ctx.out.line(`  workflow  ${handle.workflowId} (run ${runId})`);
    ctx.out.line(`  request   ${digest}`);
    ctx.out.line(
      `  signed    ${submission ? `by ${request.metadata.requestedBy} with ${submission.fingerprint}` : 'no (no --key): UNVERIFIED'}`,
    );
    ctx.out.line(`  state     ${state}`);
    const ui = workflowUiUrl(ctx.io.env, options.namespace, handle.workflowId, runId);
    if (ui) ctx.out.line(`  ui        ${ui}`);
    ctx.out.line(
      colors.dim(
        `  approvers check what they approve with: changectl approve ${id} --digest ${digest.slice(0, 12)}`,
      ),
    );
    ctx.out.line(colors.dim(`  follow it with: changectl watch ${id}`));
  });
}
