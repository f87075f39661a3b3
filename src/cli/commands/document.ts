import type { Command } from 'commander';
import { z } from 'zod';
import { documentUpdate } from '../../../workflows/messages';
import type { CliContext } from '../context';
import { executeWhenReady } from '../updates';
import { changeIdArgument, parseInput, requiredText } from '../input';
import { printAck } from './ack';

const documentInput = z.object({
  id: changeIdArgument,
  rootCause: requiredText,
  changed: requiredText,
  pir: z.url({
    protocol: /^https?$/,
    error: (issue) =>
      `expected an http(s) link to the post-incident review, got ${JSON.stringify(issue.input)}`,
  }),
});

export function documentCommand(program: Command, ctx: CliContext): void {
  program
    .command('document')
    .description(
      "record an emergency change's root cause, what changed and its post-incident review",
    )
    .argument('<id>', 'change id, such as CHG-1234')
    .requiredOption('--root-cause <text>', 'what caused the incident')
    .requiredOption('--changed <text>', 'what the emergency change changed')
    .requiredOption('--pir <url>', 'link to the post-incident review')
    .action(async (id: string, raw: Record<string, unknown>) => {
      const input = parseInput(documentInput, { id, ...raw });
      const actor = ctx.user;
      const { handle } = await ctx.runningChange(input.id);
      const ack = await executeWhenReady(input.id, handle, documentUpdate, {
        actor,
        rootCause: input.rootCause,
        changed: input.changed,
        pir: input.pir,
      });
      printAck(ctx, input.id, `documented by ${actor}`, ack);
    });
}
