import type { Command } from 'commander';
import { z } from 'zod';
import { dnsLabel } from '../../core/change/validation';
import type { ChangeLog, ChangeState } from '../../core/lifecycle/status';
import { buildReport, type ReportChange } from '../../core/report/index';
import {
  changeStateKey,
  changeTypeKey,
  environmentKey,
  servicesKey,
  changeIdKey,
} from '../../core/search-attributes';
import type { ChangeType } from '../../core/change/request';
import type { CliContext } from '../context';
import { renderReportMarkdown, renderReportText } from '../format/report';
import { durationOption, parseInput } from '../input';
import { changeListQuery } from './list';

const reportInput = z.object({
  since: durationOption.default(30 * 86_400_000),
  env: dnsLabel.optional(),
  service: dnsLabel.optional(),
  format: z.enum(['text', 'md', 'json'], { error: 'expected text, md or json' }).default('text'),
});

/** Visibility's page size: the report reads every change in the period, page by page. */
const PAGE_SIZE = 200;
/** How many change logs are read at once. */
const RESULT_CONCURRENCY = 8;

/**
 * Every change submitted in the period, from visibility (search attributes), with the change log
 * of each one that completed (its workflow result: the close event, not its history).
 */
export async function readReportChanges(
  ctx: CliContext,
  filter: { env?: string; service?: string; since: Date },
): Promise<ReportChange[]> {
  const { client } = await ctx.temporal();
  const runs: { change: ReportChange; workflowId: string; runId: string }[] = [];
  const query = changeListQuery(filter);
  for await (const info of client.workflow.list({ query, pageSize: PAGE_SIZE })) {
    const attributes = info.typedSearchAttributes;
    const state = attributes.get(changeStateKey) as ChangeState | undefined;
    const change: ReportChange = {
      id: attributes.get(changeIdKey) ?? info.workflowId.replace(/^change-/, ''),
      type: (attributes.get(changeTypeKey) ?? 'normal') as ChangeType,
      environment: attributes.get(environmentKey) ?? '',
      services: attributes.get(servicesKey) ?? [],
      ...(state !== undefined ? { state } : {}),
      executionStatus: info.status.name,
      startedAt: info.startTime.toISOString(),
      ...(info.closeTime ? { closedAt: info.closeTime.toISOString() } : {}),
    };
    runs.push({ change, workflowId: info.workflowId, runId: info.runId });
  }
  const completed = runs.filter((r) => r.change.executionStatus === 'COMPLETED');
  for (let i = 0; i < completed.length; i += RESULT_CONCURRENCY) {
    await Promise.all(
      completed.slice(i, i + RESULT_CONCURRENCY).map(async ({ change, workflowId, runId }) => {
        const result = (await client.workflow.getHandle(workflowId, runId).result()) as ChangeLog;
        change.log = result.changeLog;
      }),
    );
  }
  return runs.map((r) => r.change);
}

export function reportCommand(program: Command, ctx: CliContext): void {
  program
    .command('report')
    .description('how well changes go: DORA figures per service and overall, from Temporal')
    .option('--since <duration>', "changes submitted within this long, such as '30d'", '30d')
    .option('--env <environment>', 'only changes in this environment')
    .option('--service <service>', 'only changes to this service')
    .option('--format <format>', 'text (with a chart of changes per day), md or json', 'text')
    .action(async (raw: Record<string, unknown>) => {
      const input = parseInput(reportInput, raw);
      const to = Date.now();
      const from = to - input.since;
      const changes = await readReportChanges(ctx, {
        env: input.env,
        service: input.service,
        since: new Date(from),
      });
      const report = buildReport(changes, {
        from,
        to,
        ...(input.env !== undefined ? { environment: input.env } : {}),
        ...(input.service !== undefined ? { service: input.service } : {}),
      });
      if (input.format === 'json' || ctx.json) ctx.out.json(report);
      else if (input.format === 'md') ctx.out.lines(renderReportMarkdown(report));
      else ctx.out.lines(renderReportText(report, ctx.out.colors));
    });
}
