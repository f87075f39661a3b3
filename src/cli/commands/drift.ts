import type { Command } from 'commander';
import { z } from 'zod';
import { formatDuration } from '../../core/change/duration';
import { dnsLabel } from '../../core/change/validation';
import {
  driftScope,
  DriftScopeError,
  scopeName,
  type DriftReport,
  type DriftScope,
  type ObjectDrift,
} from '../../core/drift/index';
import { kubeContextOf } from '../../core/policy/scope';
import type { Policy } from '../../core/policy/schema';
import { loadPolicyFile } from '../../load/policy';
import type { DriftScanInput } from '../../../workflows/drift-scan';
import { commonJsExports, type CliContext } from '../context';
import { CliError, ExitCode } from '../errors';
import { formatTime, plural, table } from '../format/text';
import { durationOption, parseInput } from '../input';

const MIN_SCHEDULE_MS = 1_000;

const driftInput = z
  .object({
    env: dnsLabel.optional(),
    service: dnsLabel.optional(),
    kubeNamespace: dnsLabel.optional(),
    policy: z.string().min(1).optional(),
    kubeconfig: z.string().min(1).optional(),
    context: z.string().min(1).optional(),
    strict: z.boolean().default(false),
    schedule: durationOption
      .refine((ms) => ms >= MIN_SCHEDULE_MS, { error: 'expected an interval of at least 1s' })
      .optional(),
    unschedule: z.boolean().default(false),
    taskQueue: z.string().min(1).optional(),
  })
  .refine((i) => !(i.schedule !== undefined && i.unschedule), {
    path: ['unschedule'],
    error: 'expected either --schedule or --unschedule, not both',
  });

type DriftInput = z.output<typeof driftInput>;

/** One schedule per scope, so scans of different environments run side by side. */
export function driftScheduleId(
  input: Pick<DriftInput, 'env' | 'kubeNamespace' | 'service'>,
): string {
  return ['changectl-drift', input.env, input.kubeNamespace, input.service]
    .filter((part) => part !== undefined)
    .join('-');
}

async function policyOf(ctx: CliContext, input: DriftInput): Promise<Policy> {
  const path = input.policy ?? ctx.io.env.CHANGECTL_POLICY;
  if (!path) {
    throw new CliError(ExitCode.InvalidInput, 'no policy file:', [
      { path: '--policy', message: 'pass --policy <file> or set CHANGECTL_POLICY' },
    ]);
  }
  return loadPolicyFile(path);
}

function scopeOf(policy: Policy, input: DriftInput) {
  try {
    return driftScope(policy, {
      environment: input.env,
      namespace: input.kubeNamespace,
      service: input.service,
    });
  } catch (err) {
    if (err instanceof DriftScopeError) throw new CliError(ExitCode.InvalidInput, err.message);
    throw err;
  }
}

async function schedule(ctx: CliContext, input: DriftInput, everyMs: number): Promise<void> {
  const { DEFAULT_TASK_QUEUE } = await import('../../temporal/start');
  const { ScheduleAlreadyRunning } = commonJsExports(await import('@temporalio/client'));
  const { client } = await ctx.temporal();
  const scheduleId = driftScheduleId(input);
  const args: DriftScanInput = {
    ...(input.env !== undefined ? { environment: input.env } : {}),
    ...(input.kubeNamespace !== undefined ? { namespace: input.kubeNamespace } : {}),
    ...(input.service !== undefined ? { service: input.service } : {}),
    scheduleId,
  };
  const taskQueue = input.taskQueue ?? ctx.io.env.CHANGECTL_TASK_QUEUE ?? DEFAULT_TASK_QUEUE;
  const action = {
    type: 'startWorkflow' as const,
    workflowType: 'driftScan',
    workflowId: scheduleId,
    taskQueue,
    args: [args],
  };
  const spec = { intervals: [{ every: everyMs }] };
  let updated = false;
  try {
    await client.schedule.create({
      scheduleId,
      spec,
      action,
      policies: { overlap: 'SKIP' },
      memo: { description: `changectl drift scan every ${formatDuration(everyMs)}` },
    });
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    await client.schedule.getHandle(scheduleId).update((previous) => ({
      ...previous,
      spec,
      action,
    }));
    updated = true;
  }
  if (ctx.json) {
    ctx.out.json({ scheduleId, every: formatDuration(everyMs), taskQueue, updated });
    return;
  }
  ctx.out.line(
    `${ctx.out.colors.green('✓')} drift scan ${ctx.out.colors.bold(scheduleId)} ${updated ? 'now runs' : 'scheduled'} every ${formatDuration(everyMs)} (task queue ${taskQueue})`,
  );
  ctx.out.line(ctx.out.colors.dim(`  stop it with: changectl drift --unschedule${flags(input)}`));
}

function flags(input: DriftInput): string {
  return [
    input.env !== undefined ? ` --env ${input.env}` : '',
    input.kubeNamespace !== undefined ? ` --kube-namespace ${input.kubeNamespace}` : '',
    input.service !== undefined ? ` --service ${input.service}` : '',
  ].join('');
}

async function unschedule(ctx: CliContext, input: DriftInput): Promise<void> {
  const { ScheduleNotFoundError } = commonJsExports(await import('@temporalio/client'));
  const { client } = await ctx.temporal();
  const scheduleId = driftScheduleId(input);
  try {
    await client.schedule.getHandle(scheduleId).delete();
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) {
      throw new CliError(ExitCode.NotFound, `no drift scan is scheduled as ${scheduleId}`);
    }
    throw err;
  }
  if (ctx.json) ctx.out.json({ scheduleId, deleted: true });
  else ctx.out.line(`${ctx.out.colors.green('✓')} drift scan ${scheduleId} unscheduled`);
}

function printReport(ctx: CliContext, report: DriftReport): void {
  const { out } = ctx;
  const { colors } = out;
  out.line(
    colors.bold(
      `Drift in ${scopeName(report.scope)}: ${plural(report.scanned, 'object')} read at ${formatTime(report.scannedAt)}`,
    ),
  );
  const section = (title: string, objects: ObjectDrift[]) => {
    out.line('');
    out.line(colors.bold(title));
    if (objects.length === 0) {
      out.line('  none');
      return;
    }
    out.lines(
      table(
        ['OBJECT', 'LAST CHANGE', 'CHANGED BY', 'AT'].map((h) => colors.bold(h)),
        objects.map((o) => [
          `${o.namespace}/${o.kind}/${o.name}`,
          o.changeId ?? '-',
          o.changedBy.map((w) => `${w.manager} (${w.operation})`).join(', ') || 'unknown',
          o.changedBy[0]?.at ? formatTime(o.changedBy[0].at) : '-',
        ]),
      ).map((l) => `  ${l}`),
    );
    for (const o of objects.filter((x) => x.events.length > 0)) {
      out.line(`  events of ${o.kind}/${o.name}:`);
      for (const e of o.events) {
        out.line(`    ${formatTime(e.at)}  ${e.reason}  ${e.message}`);
      }
    }
  };
  section('Changed since their last change (live spec ≠ the hash changectl left)', report.drifted);
  section('Never changed through changectl', report.untracked);
  out.line('');
  if (report.drifted.length === 0) out.line(`${colors.green('✓')} no drift`);
}

/**
 * Reads each environment's namespaces through the kube context the policy names for it (the
 * kubeconfig's current one when it names none), and merges what they found into one report.
 */
async function readAcrossContexts(
  scope: DriftScope,
  read: (part: DriftScope, context: string | undefined) => Promise<DriftReport>,
  contextOf: (environment: string) => string | undefined,
): Promise<DriftReport> {
  const groups = new Map<string | undefined, DriftScope['namespaces']>();
  for (const entry of scope.namespaces) {
    const context = entry.environment !== undefined ? contextOf(entry.environment) : undefined;
    groups.set(context, [...(groups.get(context) ?? []), entry]);
  }
  const parts = await Promise.all(
    [...groups].map(([context, namespaces]) => read({ ...scope, namespaces }, context)),
  );
  return {
    scannedAt: parts[0]?.scannedAt ?? new Date().toISOString(),
    scope,
    scanned: parts.reduce((n, p) => n + p.scanned, 0),
    drifted: parts.flatMap((p) => p.drifted),
    untracked: parts.flatMap((p) => p.untracked),
  };
}

export function driftCommand(program: Command, ctx: CliContext): void {
  program
    .command('drift')
    .description(
      'objects changed outside changectl since their last change, and objects no change touched',
    )
    .option('--env <environment>', 'only the namespaces of this environment (default: all)')
    .option('--service <service>', "only this service's objects")
    .option(
      '--kube-namespace <namespace>',
      'only this Kubernetes namespace (--namespace is the Temporal one)',
    )
    .option(
      '--policy <file>',
      'policy file whose environments give the scope (default: CHANGECTL_POLICY)',
    )
    .option('--kubeconfig <file>', 'kubeconfig file (default: KUBECONFIG, then ~/.kube/config)')
    .option('--context <context>', "kubeconfig context (default: the environment's kubeContext)")
    .option('--strict', 'objects no change touched count as drift too')
    .option('--schedule <interval>', "scan on a Temporal Schedule every interval, such as '1h'")
    .option('--unschedule', 'delete the scheduled scan of this scope')
    .option('--task-queue <queue>', 'task queue of the changectl worker, for --schedule')
    .addHelpText(
      'after',
      '\nExit status: 0 no drift, 1 drift found (with --strict: untracked objects too).',
    )
    .action(async (raw: Record<string, unknown>) => {
      const input = parseInput(driftInput, raw);
      if (input.unschedule) return unschedule(ctx, input);
      if (input.schedule !== undefined) {
        // The worker's policy decides the scope when the scan runs; a local one catches typos now.
        if (input.policy ?? ctx.io.env.CHANGECTL_POLICY) scopeOf(await policyOf(ctx, input), input);
        return schedule(ctx, input, input.schedule);
      }
      const policy = await policyOf(ctx, input);
      const scope = scopeOf(policy, input);

      // Loaded on demand: the Kubernetes client is heavy and only this read needs it.
      const { readClusterDrift } = await import('../kube-reader');
      const report = await readAcrossContexts(
        scope,
        (part, context) =>
          readClusterDrift({ path: input.kubeconfig, context: input.context ?? context }, part),
        (environment) => kubeContextOf(policy, environment),
      );
      if (ctx.json) ctx.out.json(report);
      else printReport(ctx, report);
      const counted = report.drifted.length + (input.strict ? report.untracked.length : 0);
      if (counted > 0) {
        throw new CliError(
          ExitCode.Failed,
          `drift found: ${plural(report.drifted.length, 'object')} changed outside changectl${input.strict ? `, ${report.untracked.length} untracked` : ''}`,
        );
      }
    });
}
