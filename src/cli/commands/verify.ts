import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { z } from 'zod';
import { verifyChangeLogEvidence } from '../../core/identity/evidence';
import { loadPolicyFile } from '../../load/policy';
import type { CliContext } from '../context';
import { CliError, ExitCode } from '../errors';
import { parseInput } from '../input';
import { policyPathOf } from './whoami';

const verifyInput = z.object({
  file: z.string().min(1),
  policy: z.string().min(1).optional(),
});

async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new CliError(ExitCode.InvalidInput, `cannot read ${path}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new CliError(ExitCode.InvalidInput, `${path} is not JSON: ${(err as Error).message}`);
  }
}

export function verifyCommand(program: Command, ctx: CliContext): void {
  program
    .command('verify')
    .description(
      "re-check an exported change log's signatures and request digest offline (exit 0 all valid, 1 otherwise)",
    )
    .argument('<file>', 'change log JSON, as `changectl export <id> --format json` writes it')
    .option('--policy <file>', "policy whose people's keys the signatures are checked against")
    .action(async (file: string, raw: Record<string, unknown>) => {
      const input = parseInput(verifyInput, { file, ...raw });
      const policyPath = policyPathOf(input.policy, ctx);
      const policy = await loadPolicyFile(policyPath);
      const report = verifyChangeLogEvidence(await readJson(input.file), policy.spec.people);
      const bad = report.decisions.filter((d) => !d.ok).length + report.problems.length;
      if (ctx.json) {
        ctx.out.json(report);
      } else {
        const { colors } = ctx.out;
        for (const problem of report.problems) ctx.out.line(`${colors.red('BAD')} ${problem}`);
        for (const d of report.decisions) {
          ctx.out.line(
            `${d.ok ? colors.green('ok ') : colors.red('BAD')} ${d.decision}: ${d.detail}`,
          );
        }
      }
      if (!report.ok) {
        throw new CliError(
          ExitCode.Failed,
          `${input.file}: ${bad} problem${bad === 1 ? '' : 's'} against policy ${policy.metadata.name}`,
        );
      }
      if (!ctx.json) {
        ctx.out.line(
          `${input.file}: request digest and ${report.decisions.length} signed decision${report.decisions.length === 1 ? '' : 's'} valid against policy ${policy.metadata.name}`,
        );
      }
    });
}
