import type { Command } from 'commander';
import { z } from 'zod';
import { statusQuery } from '../../../workflows/messages';
import type { ChangeLog } from '../../core/lifecycle/status';
import type { CliContext } from '../context';
import {
  changeLogFromStatus,
  renderChangeLogMarkdown,
  type ExportedChangeLog,
} from '../format/change-log';
import { changeIdArgument, parseInput } from '../input';

const exportInput = z.object({
  id: changeIdArgument,
  format: z.enum(['md', 'json'], { error: "expected 'md' or 'json'" }).default('md'),
});

export function exportCommand(program: Command, ctx: CliContext): void {
  program
    .command('export')
    .description("print a change's change log (its workflow result once it ended)")
    .argument('<id>', 'change id, such as CHG-1234')
    .option('--format <format>', 'md or json', 'md')
    .action(async (id: string, raw: Record<string, unknown>) => {
      const input = parseInput(exportInput, { id, ...raw });
      const change = await ctx.change(input.id);
      let log: ExportedChangeLog;
      if (change.executionStatus === 'COMPLETED') {
        log = ((await change.handle.result()) as ChangeLog).changeLog;
      } else {
        log = changeLogFromStatus(await change.handle.query(statusQuery));
      }
      if (ctx.json || input.format === 'json') {
        ctx.out.json({ changeLog: log });
      } else {
        ctx.io.stdout.write(renderChangeLogMarkdown(log));
      }
    });
}
