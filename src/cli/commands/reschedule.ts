import type { Command } from 'commander';
import { z } from 'zod';
import { timestampString } from '../../core/change/validation';
import { rescheduleSignal } from '../../../workflows/messages';
import type { CliContext } from '../context';
import { withPolicyOption } from '../decision';
import { changeIdArgument, parseInput } from '../input';
import { signalDecision } from './signal';

const rescheduleInput = z.object({
  id: changeIdArgument,
  notBefore: timestampString,
  policy: z.string().min(1).optional(),
});

export function rescheduleCommand(program: Command, ctx: CliContext): void {
  withPolicyOption(
    program
      .command('reschedule')
      .description('move a change that has not started rolling out to a later time')
      .argument('<id>', 'change id, such as CHG-1234')
      .requiredOption('--not-before <timestamp>', "RFC 3339 time, such as '2026-12-01T02:00:00Z'"),
  ).action(async (id: string, raw: Record<string, unknown>) => {
    const input = parseInput(rescheduleInput, { id, ...raw });
    await signalDecision(
      ctx,
      input.id,
      rescheduleSignal,
      'reschedule',
      { notBefore: input.notBefore },
      `rescheduled to not before ${input.notBefore}`,
      input.policy,
    );
  });
}
