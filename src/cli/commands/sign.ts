import type { Command } from 'commander';
import { z } from 'zod';
import { statusQuery } from '../../../workflows/messages';
import { changeWorkflowId } from '../../core/change/request';
import { toFieldIssues, type FieldIssue } from '../../core/change/validation';
import {
  actionArgsSchemas,
  requestDigest,
  requestDigestPattern,
  statementActions,
  type Statement,
} from '../../core/identity/statement';
import { loadChangeRequestFile } from '../../load/change';
import { loadPolicyFile } from '../../load/policy';
import type { CliContext } from '../context';
import { CliError, ExitCode } from '../errors';
import { changeIdArgument, parseInput } from '../input';
import { newStatement, ownerOfKey, readPublicKey, requireKeyPath, signStatement } from '../signing';
import { decisionTargetOf, statementActionOf } from '../decision';

const signInput = z.object({
  action: z.enum(statementActions, {
    error: (issue) =>
      `expected one of ${statementActions.join(', ')}, got ${JSON.stringify(issue.input)}`,
  }),
  id: changeIdArgument,
  digest: z
    .string()
    .regex(requestDigestPattern, {
      error: (issue) =>
        `expected the request digest: 64 lowercase hex digits, as submit and status print it, got ${JSON.stringify(issue.input)}`,
    })
    .optional(),
  request: z.string().min(1).optional(),
  policy: z.string().min(1).optional(),
});

/** `key=value` gives a text, `key:=<json>` any JSON value (`restoreBackup:=true`). */
function parseArgPairs(pairs: string[]): { args: Statement['args']; issues: FieldIssue[] } {
  const args: Record<string, Statement['args'][string]> = {};
  const issues: FieldIssue[] = [];
  for (const pair of pairs) {
    const match = /^([A-Za-z][A-Za-z0-9]*)(:?=)([\s\S]*)$/.exec(pair);
    if (!match) {
      issues.push({
        path: '[args]',
        message: `expected key=value or key:=<json>, got ${JSON.stringify(pair)}`,
      });
      continue;
    }
    const [, key, op, value] = match as unknown as [string, string, string, string];
    if (op === '=') {
      args[key] = value;
      continue;
    }
    try {
      args[key] = JSON.parse(value) as Statement['args'][string];
    } catch {
      issues.push({ path: key, message: `expected JSON after ':=', got ${JSON.stringify(value)}` });
    }
  }
  return { args, issues };
}

export function signCommand(program: Command, ctx: CliContext): void {
  program
    .command('sign')
    .description(
      "print a signed statement for an action, to paste into the Temporal UI's Send Signal form or pass to `temporal workflow signal --input`",
    )
    .argument('<action>', statementActions.join(' | '))
    .argument('<id>', 'change id, such as CHG-1234')
    .argument('[args...]', "the action's arguments as key=value (key:=<json> for other values)")
    .option('--digest <sha256>', "the change's request digest (default: read from its status)")
    .option('--request <file>', 'compute the digest from the change request file you reviewed')
    .option('--policy <file>', 'sign as the person the policy says the key is (CHANGECTL_POLICY)')
    .action(async (action: string, id: string, pairs: string[], raw: Record<string, unknown>) => {
      const input = parseInput(signInput, { action, id, ...raw });
      const { args, issues } = parseArgPairs(pairs);
      const checked = actionArgsSchemas[input.action].safeParse(args);
      if (issues.length > 0 || !checked.success) {
        const argIssues = checked.success ? [] : toFieldIssues(checked.error, args);
        throw new CliError(ExitCode.InvalidInput, `invalid arguments of ${input.action}:`, [
          ...issues,
          ...argIssues.map((i) => ({
            ...i,
            path: i.path === '(document)' ? '[args]' : i.path,
          })),
        ]);
      }
      if (input.digest && input.request) {
        throw new CliError(ExitCode.InvalidInput, 'invalid arguments:', [
          { path: '--digest', message: 'give --digest or --request, not both' },
        ]);
      }
      const keyPath = requireKeyPath(ctx.keyPath);
      const key = await readPublicKey(keyPath);
      const policyPath = input.policy ?? ctx.io.env.CHANGECTL_POLICY;
      let person: string;
      if (policyPath) {
        const policy = await loadPolicyFile(policyPath);
        person = ownerOfKey(policy.spec.people, key, ctx.options.as, policy.metadata.name).person;
      } else {
        person = ctx.user;
      }

      let digest = input.digest;
      let statementAction = input.action;
      if (input.request) {
        const request = await loadChangeRequestFile(input.request);
        if (request.metadata.id !== input.id) {
          throw new CliError(ExitCode.InvalidInput, 'invalid arguments:', [
            {
              path: '--request',
              message: `${input.request} is change ${request.metadata.id}, not ${input.id}`,
            },
          ]);
        }
        digest = requestDigest(request);
      }
      if (!digest) {
        const change = await ctx.change(input.id);
        const status = await change.handle.query(statusQuery);
        const target = decisionTargetOf(status);
        if (target.requestDigest === undefined) {
          throw new CliError(
            ExitCode.Failed,
            `change ${input.id}'s status carries no request digest: pass --digest <sha256> or --request <file>`,
          );
        }
        digest = target.requestDigest;
        // An emergency change is approved by its incident commander.
        if (statementAction === 'approve' || statementAction === 'ic-approve') {
          statementAction = statementActionOf('approve', target);
        }
      }

      const statement = newStatement({
        changeId: input.id,
        requestDigest: digest,
        action: statementAction,
        args: checked.data as Statement['args'],
        person,
      });
      const signed = await signStatement(statement, keyPath, ctx.io.stderr, { env: ctx.io.env });
      // An incident commander's approval is sent as the approve message.
      const messageName = statementAction === 'ic-approve' ? 'approve' : statementAction;
      ctx.io.stdout.write(`${JSON.stringify(signed)}\n`);
      ctx.io.stderr.write(
        `signed ${statementAction} of ${input.id} (request ${digest.slice(0, 12)}…) as ${person} with ${key.fingerprint}; ` +
          `valid for 5 minutes. Paste it into the Temporal UI's Send Signal form (signal ${messageName}), or:\n` +
          `  temporal workflow signal --workflow-id ${changeWorkflowId(input.id)} --name ${messageName} --input '<the JSON above>'\n`,
      );
    });
}
