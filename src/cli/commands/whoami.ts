import type { Command } from 'commander';
import { z } from 'zod';
import { loadPolicyFile } from '../../load/policy';
import type { CliContext } from '../context';
import { CliError, ExitCode } from '../errors';
import { parseInput } from '../input';
import { ownerOfKey, readPublicKey, requireKeyPath } from '../signing';

const whoamiInput = z.object({ policy: z.string().min(1).optional() });

/** The policy file of a command: `--policy`, then CHANGECTL_POLICY. */
export function policyPathOf(flag: string | undefined, ctx: CliContext): string {
  const path = flag ?? ctx.io.env.CHANGECTL_POLICY;
  if (path) return path;
  throw new CliError(ExitCode.InvalidInput, 'no policy file:', [
    { path: '--policy', message: 'pass --policy <file> or set CHANGECTL_POLICY' },
  ]);
}

export function whoamiCommand(program: Command, ctx: CliContext): void {
  program
    .command('whoami')
    .description('say which person of the policy your key (--key / CHANGECTL_KEY) is')
    .option('--policy <file>', 'policy file (default: CHANGECTL_POLICY)')
    .action(async (raw: Record<string, unknown>) => {
      const input = parseInput(whoamiInput, raw);
      const keyPath = requireKeyPath(ctx.keyPath);
      const policyPath = policyPathOf(input.policy, ctx);
      const policy = await loadPolicyFile(policyPath);
      const key = await readPublicKey(keyPath);
      const owner = ownerOfKey(policy.spec.people, key, ctx.options.as, policy.metadata.name);
      const { person } = owner;
      const comment = owner.key.comment;
      const mode = policy.spec.identity.mode;
      if (ctx.json) {
        ctx.out.json({
          person,
          fingerprint: key.fingerprint,
          keyType: key.type,
          identityMode: mode,
        });
        return;
      }
      const name = policy.spec.people[person]?.name;
      ctx.out.line(
        `${person}${name ? ` (${name})` : ''}: ${key.type} ${key.fingerprint}${comment ? ` ${comment}` : ''}`,
      );
      if (mode === 'names') {
        ctx.out.line(
          `policy ${policy.metadata.name} trusts stated names (identity.mode: names): decisions are UNVERIFIED`,
        );
      }
    });
}
