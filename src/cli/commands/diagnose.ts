import type { Command } from 'commander';
import { z } from 'zod';
import { formatDuration } from '../../core/change/duration';
import { dnsLabel } from '../../core/change/validation';
import type { EventInfo, RevisionInfo } from '../../core/contracts';
import type { CliContext } from '../context';
import { CliError, ExitCode } from '../errors';
import { renderChangeList, type ChangeListEntry } from '../format/list';
import { formatTime, table } from '../format/text';
import { durationOption, parseInput } from '../input';
import { listChanges } from './list';

const diagnoseInput = z.object({
  service: dnsLabel,
  env: dnsLabel.optional(),
  since: durationOption.default(24 * 3_600_000),
  kubeNamespace: dnsLabel.optional(),
  kubeconfig: z.string().min(1).optional(),
  context: z.string().min(1).optional(),
});

/** Each part of the answer, or why it is missing. */
type Part<T> = { ok: true; value: T } | { ok: false; error: unknown };

async function attempt<T>(work: () => Promise<T>): Promise<Part<T>> {
  try {
    return { ok: true, value: await work() };
  } catch (error) {
    return { ok: false, error };
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

interface KubernetesFindings {
  rolloutHistory: Part<RevisionInfo[]>;
  events: Part<EventInfo[]>;
}

async function kubernetesFindings(
  input: z.output<typeof diagnoseInput>,
  namespace: string,
  sinceMs: number,
): Promise<Part<KubernetesFindings>> {
  return attempt(async () => {
    // Loaded on demand: the Kubernetes client is heavy and only this command needs it.
    const { createKubeReader } = await import('../kube-reader');
    const kubernetes = createKubeReader({ path: input.kubeconfig, context: input.context });
    const [rolloutHistory, events] = await Promise.all([
      attempt(() => kubernetes.rolloutHistory({ namespace, deployment: input.service })),
      attempt(() => kubernetes.recentEvents({ namespace, sinceMs, names: [input.service] })),
    ]);
    return { rolloutHistory, events };
  });
}

export function diagnoseCommand(program: Command, ctx: CliContext): void {
  program
    .command('diagnose')
    .description(
      'what changed recently: changes from Temporal, rollouts and events from Kubernetes',
    )
    .requiredOption('--service <service>', 'the service in trouble')
    .option('--env <environment>', 'its environment')
    .option('--since <duration>', 'how far back to look', '24h')
    .option('--kube-namespace <namespace>', 'Kubernetes namespace (default: the environment)')
    .option('--kubeconfig <file>', 'kubeconfig file (default: KUBECONFIG, then ~/.kube/config)')
    .option('--context <context>', 'kubeconfig context')
    .action(async (raw: Record<string, unknown>) => {
      const input = parseInput(diagnoseInput, raw);
      const since = Date.now() - input.since;
      const namespace = input.kubeNamespace ?? input.env ?? 'default';
      const [changes, kubernetes] = await Promise.all([
        attempt(() =>
          listChanges(ctx, { service: input.service, env: input.env, since: new Date(since) }, 100),
        ),
        kubernetesFindings(input, namespace, since),
      ]);
      const rolloutHistory: Part<RevisionInfo[]> = kubernetes.ok
        ? kubernetes.value.rolloutHistory
        : kubernetes;
      const events: Part<EventInfo[]> = kubernetes.ok ? kubernetes.value.events : kubernetes;

      if (ctx.json) {
        const errors: { source: string; message: string }[] = [];
        const value = <T>(part: Part<T>, source: string): T | null => {
          if (part.ok) return part.value;
          errors.push({ source, message: messageOf(part.error) });
          return null;
        };
        ctx.out.json({
          service: input.service,
          environment: input.env ?? null,
          namespace,
          since: new Date(since).toISOString(),
          changes: value(changes, 'temporal'),
          rolloutHistory: value(rolloutHistory, 'kubernetes rollout history'),
          events: value(events, 'kubernetes events'),
          errors,
        });
      } else {
        printFindings(ctx, input, namespace, since, changes, rolloutHistory, events);
      }

      // Whatever could be found was printed; now say what could not, with its exit code.
      if (!changes.ok) throw changes.error;
      const failed = [rolloutHistory, events].filter((p) => !p.ok);
      if (failed.length > 0) {
        throw new CliError(
          ExitCode.Failed,
          `kubernetes: ${[...new Set(failed.map((p) => (p.ok ? '' : messageOf(p.error))))].join('; ')}`,
        );
      }
    });
}

function printFindings(
  ctx: CliContext,
  input: z.output<typeof diagnoseInput>,
  namespace: string,
  since: number,
  changes: Part<ChangeListEntry[]>,
  rolloutHistory: Part<RevisionInfo[]>,
  events: Part<EventInfo[]>,
): void {
  const { out } = ctx;
  const { colors } = out;
  const unavailable = (part: { ok: false; error: unknown }) =>
    `  ${colors.red('unavailable')}: ${messageOf(part.error)}`;
  const where = input.env ? ` in ${input.env}` : '';
  out.line(
    colors.bold(
      `What changed recently? ${input.service}${where}, last ${formatDuration(input.since)} (since ${formatTime(new Date(since))})`,
    ),
  );
  out.line('');

  out.line(colors.bold('Changes (Temporal)'));
  if (!changes.ok) out.line(unavailable(changes));
  else if (changes.value.length === 0) out.line('  none');
  else out.lines(renderChangeList(changes.value, colors).map((l) => `  ${l}`));
  out.line('');

  out.line(colors.bold(`Rollout history (deployment/${input.service} in ${namespace})`));
  if (!rolloutHistory.ok) out.line(unavailable(rolloutHistory));
  else if (rolloutHistory.value.length === 0) out.line('  none');
  else {
    out.lines(
      table(
        ['REVISION', 'CREATED', 'CHANGE', 'IMAGES', 'CAUSE'].map((h) => colors.bold(h)),
        rolloutHistory.value.map((r) => [
          String(r.revision),
          r.createdAt ? formatTime(r.createdAt) : '-',
          r.changeId ?? '-',
          Object.values(r.images).join(', '),
          r.changeCause ?? '',
        ]),
      ).map((l) => `  ${l}`),
    );
  }
  out.line('');

  out.line(colors.bold(`Events (namespace ${namespace})`));
  if (!events.ok) out.line(unavailable(events));
  else if (events.value.length === 0) out.line('  none');
  else {
    out.lines(
      table(
        ['TIME', 'TYPE', 'REASON', 'OBJECT', 'MESSAGE'].map((h) => colors.bold(h)),
        events.value
          .slice(-30)
          .map((e) => [
            formatTime(e.at),
            e.type === 'Warning' ? colors.yellow(e.type) : e.type,
            e.reason,
            e.object,
            e.message,
          ]),
      ).map((l) => `  ${l}`),
    );
  }
}
