import type { Command } from 'commander';
import { z } from 'zod';
import { timestampString } from '../../core/change/validation';
import { rescheduleSignal } from '../../../workflows/messages';
import type { CliContext } from '../context';
import { changeIdArgument, parseInput } from '../input';
import { signalChange } from './signal';

const rescheduleInput = z.object({ id: changeIdArgument, notBefore: timestampString });

export function rescheduleCommand(program: Command, ctx: CliContext): void {
  program
    .command('reschedule')
    .description('move a change that has not started rolling out to a later time')
    .argument('<id>', 'change id, such as CHG-1234')
    .requiredOption('--not-before <timestamp>', "RFC 3339 time, such as '2026-12-01T02:00:00Z'")
    .action(async (id: string, raw: Record<string, unknown>) => {
      const input = parseInput(rescheduleInput, { id, ...raw });
      await signalChange(
        ctx,
        input.id,
        rescheduleSignal,
        [{ actor: ctx.user, notBefore: input.notBefore }],
        `rescheduled to not before ${input.notBefore}`,
      );
    });
}
