import type { Command } from 'commander';
import { z } from 'zod';
import { documentUpdate } from '../../../workflows/messages';
import type { CliContext } from '../context';
import { prepareDecision, sendDecisionUpdate, withPolicyOption } from '../decision';
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
  policy: z.string().min(1).optional(),
});

export function documentCommand(program: Command, ctx: CliContext): void {
  withPolicyOption(
    program
      .command('document')
      .description(
        "record an emergency change's root cause, what changed and its post-incident review",
      )
      .argument('<id>', 'change id, such as CHG-1234')
      .requiredOption('--root-cause <text>', 'what caused the incident')
      .requiredOption('--changed <text>', 'what the emergency change changed')
      .requiredOption('--pir <url>', 'link to the post-incident review'),
  ).action(async (id: string, raw: Record<string, unknown>) => {
    const input = parseInput(documentInput, { id, ...raw });
    const prepared = await prepareDecision(
      ctx,
      input.id,
      'document',
      { rootCause: input.rootCause, changed: input.changed, pir: input.pir },
      input.policy,
    );
    const ack = await sendDecisionUpdate(prepared, documentUpdate);
    const { decision } = prepared;
    printAck(ctx, input.id, `documented by ${decision.person}`, ack, {
      by: decision.person,
      ...(decision.fingerprint ? { fingerprint: decision.fingerprint } : {}),
    });
  });
}
