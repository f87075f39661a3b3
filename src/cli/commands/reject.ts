import type { Command } from 'commander';
import { z } from 'zod';
import { rejectUpdate } from '../../../workflows/messages';
import type { CliContext } from '../context';
import { prepareDecision, sendDecisionUpdate, withPolicyOption } from '../decision';
import { changeIdArgument, parseInput, requiredText } from '../input';
import { printAck } from './ack';

const rejectInput = z.object({
  id: changeIdArgument,
  reason: requiredText,
  policy: z.string().min(1).optional(),
});

export function rejectCommand(program: Command, ctx: CliContext): void {
  withPolicyOption(
    program
      .command('reject')
      .description('reject a change that is waiting for approval')
      .argument('<id>', 'change id, such as CHG-1234')
      .requiredOption('--reason <text>', 'why the change is rejected'),
  ).action(async (id: string, raw: Record<string, unknown>) => {
    const input = parseInput(rejectInput, { id, ...raw });
    const prepared = await prepareDecision(
      ctx,
      input.id,
      'reject',
      { reason: input.reason },
      input.policy,
    );
    const ack = await sendDecisionUpdate(prepared, rejectUpdate);
    const { decision } = prepared;
    printAck(ctx, input.id, `rejected by ${decision.person}`, ack, {
      by: decision.person,
      ...(decision.fingerprint ? { fingerprint: decision.fingerprint } : {}),
    });
  });
}
