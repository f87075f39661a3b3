import type { Command } from 'commander';
import { z } from 'zod';
import { statusQuery } from '../../../workflows/messages';
import type { CliContext } from '../context';
import { renderStatus } from '../format/status';
import { changeIdArgument, parseInput } from '../input';
import { workflowUiUrl } from '../links';

const statusInput = z.object({ id: changeIdArgument });

export function statusCommand(program: Command, ctx: CliContext): void {
  program
    .command('status')
    .description('show where a change is, what it waits for, and what happened so far')
    .argument('<id>', 'change id, such as CHG-1234')
    .action(async (id: string) => {
      const input = parseInput(statusInput, { id });
      const change = await ctx.change(input.id);
      const status = await change.handle.query(statusQuery);
      if (ctx.json) {
        ctx.out.json(status);
        return;
      }
      ctx.out.lines(renderStatus(status, ctx.out.colors, new Date()));
      const { options } = await ctx.temporal();
      const ui = workflowUiUrl(ctx.io.env, options.namespace, change.handle.workflowId);
      if (ui) ctx.out.lines(['', ctx.out.colors.dim(`ui: ${ui}`)]);
    });
}
