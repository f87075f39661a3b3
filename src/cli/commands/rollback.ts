import type { Command } from 'commander';
import { z } from 'zod';
import { rollbackSignal } from '../../../workflows/messages';
import type { CliContext } from '../context';
import { withPolicyOption } from '../decision';
import { changeIdArgument, parseInput, requiredText } from '../input';
import { signalDecision } from './signal';

const rollbackInput = z.object({
  id: changeIdArgument,
  reason: requiredText,
  restoreBackup: z.boolean().default(false),
  policy: z.string().min(1).optional(),
});

export function rollbackCommand(program: Command, ctx: CliContext): void {
  withPolicyOption(
    program
      .command('rollback')
      .description('roll a change back now')
      .argument('<id>', 'change id, such as CHG-1234')
      .requiredOption('--reason <text>', 'why the change is rolled back')
      .option('--restore-backup', "also restore the change's Velero backup"),
  ).action(async (id: string, raw: Record<string, unknown>) => {
    const input = parseInput(rollbackInput, { id, ...raw });
    await signalDecision(
      ctx,
      input.id,
      rollbackSignal,
      'rollback',
      { reason: input.reason, restoreBackup: input.restoreBackup },
      `rollback requested${input.restoreBackup ? ' (with backup restore)' : ''}`,
      input.policy,
    );
  });
}
