import type { Command } from 'commander';
import { z } from 'zod';
import { cancelSignal } from '../../../workflows/messages';
import type { CliContext } from '../context';
import { withPolicyOption } from '../decision';
import { changeIdArgument, parseInput, requiredText } from '../input';
import { signalDecision } from './signal';

const cancelInput = z.object({
  id: changeIdArgument,
  reason: requiredText,
  policy: z.string().min(1).optional(),
});

export function cancelCommand(program: Command, ctx: CliContext): void {
  withPolicyOption(
    program
      .command('cancel')
      .description('cancel a change (a change already rolling out is rolled back)')
      .argument('<id>', 'change id, such as CHG-1234')
      .requiredOption('--reason <text>', 'why the change is cancelled'),
  ).action(async (id: string, raw: Record<string, unknown>) => {
    const input = parseInput(cancelInput, { id, ...raw });
    await signalDecision(
      ctx,
      input.id,
      cancelSignal,
      'cancel',
      { reason: input.reason },
      'cancel requested',
      input.policy,
    );
  });
}
