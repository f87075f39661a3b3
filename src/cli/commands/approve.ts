import type { Command } from 'commander';
import { z } from 'zod';
import { approveUpdate } from '../../../workflows/messages';
import type { CliContext } from '../context';
import { executeWhenReady } from '../updates';
import { changeIdArgument, parseInput, requiredText } from '../input';
import { printAck } from './ack';

const approveInput = z.object({
  id: changeIdArgument,
  comment: requiredText.optional(),
});

export function approveCommand(program: Command, ctx: CliContext): void {
  program
    .command('approve')
    .description('approve a change; a refusal by policy is explained at once (exit 3)')
    .argument('<id>', 'change id, such as CHG-1234')
    .option('--comment <text>', 'a note kept with the approval')
    .action(async (id: string, raw: Record<string, unknown>) => {
      const input = parseInput(approveInput, { id, ...raw });
      const actor = ctx.user;
      const { handle } = await ctx.runningChange(input.id);
      const ack = await executeWhenReady(input.id, handle, approveUpdate, {
        actor,
        ...(input.comment ? { comment: input.comment } : {}),
      });
      printAck(ctx, input.id, `approved by ${actor}`, ack);
    });
}
