import type { Command } from 'commander';
import { z } from 'zod';
import { decideSignal } from '../../../workflows/messages';
import type { CliContext } from '../context';
import { withPolicyOption } from '../decision';
import { changeIdArgument, parseInput, requiredText } from '../input';
import { signalDecision } from './signal';

const decideInput = z.object({
  id: changeIdArgument,
  decision: z.enum(['proceed', 'rollback'], {
    error: (issue) => `expected 'proceed' or 'rollback', got ${JSON.stringify(issue.input)}`,
  }),
  reason: requiredText.optional(),
  policy: z.string().min(1).optional(),
});

export function decideCommand(program: Command, ctx: CliContext): void {
  withPolicyOption(
    program
      .command('decide')
      .description(
        'answer a change whose verification was inconclusive: proceed (complete it) or rollback',
      )
      .argument('<id>', 'change id, such as CHG-1234')
      .argument('<decision>', 'proceed | rollback')
      .option('--reason <text>', 'why'),
  ).action(async (id: string, decision: string, raw: Record<string, unknown>) => {
    const input = parseInput(decideInput, { id, decision, ...raw });
    await signalDecision(
      ctx,
      input.id,
      decideSignal,
      'decide',
      { decision: input.decision, ...(input.reason ? { reason: input.reason } : {}) },
      `decision '${input.decision}' sent`,
      input.policy,
    );
  });
}
