import type { Command } from 'commander';
import { z } from 'zod';
import { formatDuration } from '../../core/change/duration';
import { dnsLabel, timestampString } from '../../core/change/validation';
import { loadPolicyFile } from '../../load/policy';
import { blockersAt, upcomingWindows, type WindowTarget } from '../../core/policy/windows';
import type { CliContext } from '../context';
import { CliError, ExitCode } from '../errors';
import { formatTime, table } from '../format/text';
import { countOption, durationOption, parseInput } from '../input';

const windowsInput = z.object({
  env: dnsLabel.default('production'),
  service: dnsLabel.optional(),
  from: timestampString.optional(),
  count: countOption.default(5),
  needed: durationOption.optional(),
  policy: z.string().min(1).optional(),
});

const DEFAULT_NEEDED_MS = 25 * 60_000;

export function windowsCommand(program: Command, ctx: CliContext): void {
  program
    .command('windows')
    .description('show the next windows in which the policy lets a change start')
    .option('--env <environment>', 'environment', 'production')
    .option('--service <service>', 'service the change is to')
    .option('--from <timestamp>', 'look from this time (default: now)')
    .option('--count <n>', 'how many windows', '5')
    .option('--needed <duration>', 'how long the change needs: rollout timeout + watch', '25m')
    .option('--policy <file>', 'policy file (default: CHANGECTL_POLICY)')
    .action(async (raw: Record<string, unknown>) => {
      const input = parseInput(windowsInput, raw);
      const policyPath = input.policy ?? ctx.io.env.CHANGECTL_POLICY;
      if (!policyPath) {
        throw new CliError(ExitCode.InvalidInput, 'no policy file:', [
          { path: '--policy', message: 'pass --policy <file> or set CHANGECTL_POLICY' },
        ]);
      }
      const policy = await loadPolicyFile(policyPath);
      const target: WindowTarget = {
        environment: input.env,
        services: input.service ? [input.service] : [],
      };
      const from = input.from ? Date.parse(input.from) : Date.now();
      const neededMs = input.needed ?? DEFAULT_NEEDED_MS;
      const windows = upcomingWindows(policy, target, from, input.count, neededMs);
      const blockers = blockersAt(policy, target, from, neededMs);
      const iso = (ms: number) => new Date(ms).toISOString();

      if (ctx.json) {
        ctx.out.json({
          environment: target.environment,
          services: target.services,
          from: iso(from),
          needed: formatDuration(neededMs),
          allowedNow: blockers.length === 0,
          blockers: blockers.map((b) => ({
            ...b,
            ...(b.until !== undefined ? { until: iso(b.until) } : {}),
          })),
          windows: windows.map((w) => ({
            start: iso(w.start),
            end: iso(w.end),
            latestStart: iso(w.latestStart),
            names: w.names,
          })),
        });
        return;
      }

      const { colors } = ctx.out;
      const scope = `${target.environment}${input.service ? `/${input.service}` : ''}`;
      ctx.out.line(
        `windows for ${colors.bold(scope)} from ${formatTime(new Date(from))}, needing ${formatDuration(neededMs)} (policy ${policy.metadata.name})`,
      );
      if (blockers.length === 0) {
        ctx.out.line(`now: ${colors.green('allowed')}`);
      } else {
        ctx.out.line(`now: ${colors.red('blocked')}`);
        for (const b of blockers) ctx.out.line(`  ${b.kind} ${b.name}: ${b.reason}`);
      }
      ctx.out.line('');
      if (windows.length === 0) {
        ctx.out.line('no window within the horizon leaves room for the change');
        return;
      }
      ctx.out.lines(
        table(
          ['OPENS', 'CLOSES', 'START BY', 'LENGTH', 'WINDOWS'].map((h) => colors.bold(h)),
          windows.map((w) => [
            formatTime(new Date(Math.max(w.start, from))),
            formatTime(new Date(w.end)),
            formatTime(new Date(w.latestStart)),
            formatDuration(w.end - Math.max(w.start, from)),
            w.names.length > 0 ? w.names.join(', ') : colors.dim('(no allow window applies)'),
          ]),
        ),
      );
    });
}
