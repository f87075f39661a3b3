import type { SignalDefinition } from '@temporalio/client';
import type { Actor, Message } from '../../../workflows/messages';
import type { CliContext } from '../context';
import {
  actedAs,
  prepareDecision,
  sendDecisionSignal,
  type DecisionAction,
  type DecisionArgs,
} from '../decision';

/**
 * Sends a decision to a running change as a signal. Signals are not answered, so the change is
 * looked up first: a missing change is exit 4 and an ended one exit 1, rather than a signal lost
 * in silence. Whether the change accepted it shows in its status (`changectl status`).
 */
export async function signalDecision<Unsigned extends Actor>(
  ctx: CliContext,
  id: string,
  signal: SignalDefinition<[Message<Unsigned>]>,
  action: DecisionAction,
  args: DecisionArgs,
  done: string,
  policyFlag: unknown,
): Promise<void> {
  const prepared = await prepareDecision(ctx, id, action, args, policyFlag);
  await sendDecisionSignal(prepared, signal);
  const { change, decision } = prepared;
  if (ctx.json) {
    ctx.out.json({
      id,
      workflowId: change.handle.workflowId,
      signal: signal.name,
      sent: true,
      by: decision.person,
      ...(decision.fingerprint ? { fingerprint: decision.fingerprint } : {}),
    });
    return;
  }
  const { colors } = ctx.out;
  ctx.out.line(`${colors.green('✓')} ${colors.bold(id)}: ${done} ${actedAs(decision)}`);
  ctx.out.line(colors.dim(`  follow it with: changectl watch ${id}`));
}
