import type { Command } from 'commander';
import { z } from 'zod';
import { dnsLabel } from '../../core/change/validation';
import { endStates, emergencyStates, plannedStates } from '../../core/lifecycle/status';
import type { CliContext } from '../context';
import { changeListEntry, renderChangeList, type ChangeListEntry } from '../format/list';
import { countOption, durationOption, parseInput } from '../input';

const changeStates = [...new Set([...plannedStates, ...emergencyStates, ...endStates])];

export const CHANGE_WORKFLOW_TYPES = ['plannedChange', 'emergencyChange'] as const;

export interface ChangeFilter {
  state?: string;
  service?: string;
  env?: string;
  /** Only changes started at or after this time. */
  since?: Date;
}

/** A visibility query for changes; values are checked names, so quoting them is enough. */
export function changeListQuery(filter: ChangeFilter): string {
  const clauses = [`WorkflowType IN (${CHANGE_WORKFLOW_TYPES.map((t) => `'${t}'`).join(', ')})`];
  if (filter.state) clauses.push(`ChangeState = '${filter.state}'`);
  if (filter.service) clauses.push(`Services = '${filter.service}'`);
  if (filter.env) clauses.push(`Environment = '${filter.env}'`);
  if (filter.since) clauses.push(`StartTime >= '${filter.since.toISOString()}'`);
  return clauses.join(' AND ');
}

/** How many runs `list` reads at most before it sorts them. */
const SCAN_LIMIT = 1_000;

/** Changes matching a filter, newest first, at most `limit`. */
export async function listChanges(
  ctx: CliContext,
  filter: ChangeFilter,
  limit: number,
): Promise<ChangeListEntry[]> {
  const { client } = await ctx.temporal();
  const entries: ChangeListEntry[] = [];
  for await (const info of client.workflow.list({ query: changeListQuery(filter) })) {
    entries.push(changeListEntry(info));
    if (entries.length >= SCAN_LIMIT) break;
  }
  entries.sort((a, b) => b.startedAt.localeCompare(a.startedAt));
  return entries.slice(0, limit);
}

const listInput = z.object({
  state: z.enum(changeStates, { error: `expected one of ${changeStates.join(', ')}` }).optional(),
  service: dnsLabel.optional(),
  env: dnsLabel.optional(),
  since: durationOption.optional(),
  limit: countOption.default(50),
});

export function listCommand(program: Command, ctx: CliContext): void {
  program
    .command('list')
    .description('list changes, newest first')
    .option('--state <state>', 'only changes in this state')
    .option('--service <service>', 'only changes to this service')
    .option('--env <environment>', 'only changes in this environment')
    .option('--since <duration>', "only changes started within this long, such as '24h'")
    .option('--limit <n>', 'at most this many changes', '50')
    .action(async (raw: Record<string, unknown>) => {
      const input = parseInput(listInput, raw);
      const entries = await listChanges(
        ctx,
        {
          state: input.state,
          service: input.service,
          env: input.env,
          since: input.since !== undefined ? new Date(Date.now() - input.since) : undefined,
        },
        input.limit,
      );
      if (ctx.json) {
        ctx.out.json(entries);
        return;
      }
      if (entries.length === 0) {
        ctx.out.line('no changes match');
        return;
      }
      ctx.out.lines(renderChangeList(entries, ctx.out.colors));
    });
}
