import type { Command } from 'commander';
import { z } from 'zod';
import { approveUpdate } from '../../../workflows/messages';
import type { ChangeStatus } from '../../core/lifecycle/status';
import type { CliContext } from '../context';
import { actedAs, prepareDecision, sendDecisionUpdate, withPolicyOption } from '../decision';
import { CliError, ExitCode } from '../errors';
import { changeIdArgument, parseInput, requiredText } from '../input';
import { printAck } from './ack';

const approveInput = z.object({
  id: changeIdArgument,
  comment: requiredText.optional(),
  digest: z
    .string()
    .regex(/^[0-9a-f]{4,64}$/, {
      error: (issue) =>
        `expected the start of the request digest you reviewed: 4 to 64 lowercase hex digits, as submit and status print it, got ${JSON.stringify(issue.input)}`,
    })
    .optional(),
  policy: z.string().min(1).optional(),
});

/** What the rollout applies, as the change's status and memo say it. */
export function rolloutSubject(status: ChangeStatus, memo: Record<string, unknown>): string {
  if (status.rollout.image) return `image ${status.rollout.image}`;
  const manifests = memo.manifests;
  if (typeof manifests === 'number') {
    return `${manifests} manifest${manifests === 1 ? '' : 's'} to deployment/${status.rollout.deployment}`;
  }
  return `deployment/${status.rollout.deployment}`;
}

/** Refuses (exit 3) when the change is not the one reviewed: its digest does not start so. */
export function checkReviewedDigest(status: ChangeStatus, prefix: string | undefined): void {
  if (prefix === undefined) return;
  const digest: unknown = status.requestDigest;
  if (typeof digest !== 'string') {
    throw new CliError(
      ExitCode.Refused,
      `refused: ${status.id}'s status carries no request digest, so it cannot be checked against --digest ${prefix}`,
    );
  }
  if (!digest.startsWith(prefix)) {
    throw new CliError(
      ExitCode.Refused,
      `refused: ${status.id}'s request is ${digest}, which does not start with --digest ${prefix}: it is not the change you reviewed`,
    );
  }
}

export function approveCommand(program: Command, ctx: CliContext): void {
  withPolicyOption(
    program
      .command('approve')
      .description('approve a change; a refusal by policy is explained at once (exit 3)')
      .argument('<id>', 'change id, such as CHG-1234')
      .option('--comment <text>', 'a note kept with the approval')
      .option(
        '--digest <prefix>',
        'approve only if the request digest starts with this (the one you reviewed)',
      ),
  ).action(async (id: string, raw: Record<string, unknown>) => {
    const input = parseInput(approveInput, { id, ...raw });
    const prepared = await prepareDecision(
      ctx,
      input.id,
      'approve',
      input.comment ? { comment: input.comment } : {},
      input.policy,
      (status) => checkReviewedDigest(status, input.digest),
    );
    const { status, decision, change } = prepared;
    const subject = rolloutSubject(status, change.memo);
    if (!ctx.json) {
      ctx.out.line(`approving ${ctx.out.colors.bold(input.id)}: ${status.title}`);
      ctx.out.line(`  request  ${status.requestDigest ?? '(no digest)'}`);
      ctx.out.line(`  rollout  ${subject}`);
      ctx.out.line(`  as       ${actedAs(decision).replace(/^by /, '')}`);
    }
    const ack = await sendDecisionUpdate(prepared, approveUpdate);
    printAck(ctx, input.id, `approved by ${decision.person}`, ack, {
      title: status.title,
      ...(status.requestDigest ? { requestDigest: status.requestDigest } : {}),
      rollout: subject,
      by: decision.person,
      ...(decision.fingerprint ? { fingerprint: decision.fingerprint } : {}),
    });
  });
}
