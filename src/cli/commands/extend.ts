import type { Command } from 'commander';
import { z } from 'zod';
import { formatDuration } from '../../core/change/duration';
import { extendSignal } from '../../../workflows/messages';
import type { CliContext } from '../context';
import { withPolicyOption } from '../decision';
import { changeIdArgument, durationOption, parseInput } from '../input';
import { signalDecision } from './signal';

const extendInput = z.object({
  id: changeIdArgument,
  by: durationOption.refine((ms) => ms > 0, { error: 'expected a duration longer than 0s' }),
  policy: z.string().min(1).optional(),
});

export function extendCommand(program: Command, ctx: CliContext): void {
  withPolicyOption(
    program
      .command('extend')
      .description("extend a change's verification watch")
      .argument('<id>', 'change id, such as CHG-1234')
      .requiredOption('--by <duration>', "how much longer to watch, such as '10m'"),
  ).action(async (id: string, raw: Record<string, unknown>) => {
    const input = parseInput(extendInput, { id, ...raw });
    const duration = formatDuration(input.by);
    await signalDecision(
      ctx,
      input.id,
      extendSignal,
      'extend',
      { duration },
      `watch extension by ${duration} requested`,
      input.policy,
    );
  });
}
