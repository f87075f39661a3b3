import type { Command } from 'commander';
import { z } from 'zod';
import { rejectUpdate } from '../../../workflows/messages';
import type { CliContext } from '../context';
import { executeWhenReady } from '../updates';
import { changeIdArgument, parseInput, requiredText } from '../input';
import { printAck } from './ack';

const rejectInput = z.object({ id: changeIdArgument, reason: requiredText });

export function rejectCommand(program: Command, ctx: CliContext): void {
  program
    .command('reject')
    .description('reject a change that is waiting for approval')
    .argument('<id>', 'change id, such as CHG-1234')
    .requiredOption('--reason <text>', 'why the change is rejected')
    .action(async (id: string, raw: Record<string, unknown>) => {
      const input = parseInput(rejectInput, { id, ...raw });
      const actor = ctx.user;
      const { handle } = await ctx.runningChange(input.id);
      const ack = await executeWhenReady(input.id, handle, rejectUpdate, {
        actor,
        reason: input.reason,
      });
      printAck(ctx, input.id, `rejected by ${actor}`, ack);
    });
}
