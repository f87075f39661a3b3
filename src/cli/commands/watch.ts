import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import { z } from 'zod';
import { formatDuration } from '../../core/change/duration';
import { statusQuery } from '../../../workflows/messages';
import {
  isEndState,
  isUnsuccessful,
  type ChangeLog,
  type ChangeState,
  type ChangeStatus,
  type TimelineEntry,
} from '../../core/lifecycle/status';
import type { ChangeRef, CliContext } from '../context';
import { CliError, ExitCode, isUnavailable } from '../errors';
import { stateColor, waitingFor } from '../format/status';
import { formatTime } from '../format/text';
import { changeIdArgument, durationOption, parseInput } from '../input';

const watchInput = z.object({
  id: changeIdArgument,
  interval: durationOption
    .refine((ms) => ms >= 200, { error: 'expected at least 200ms' })
    .optional(),
});

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const SPINNER_TICK_MS = 120;
/** How long the workflow may go unanswered before watch gives up and says so. */
const UNANSWERED_LIMIT_MS = 60_000;

function entryKey(e: TimelineEntry): string {
  return `${e.at}\u0000${e.actor}\u0000${e.event}\u0000${e.detail ?? ''}`;
}

/** Where a watch ends: the final state and the one line that says why. */
export interface Ending {
  state: ChangeState;
  outcome?: string;
}

/** `rolled-back: <why>`, unless the outcome already starts by naming the state. */
export function describeEnding(ending: Ending): string {
  const { state, outcome } = ending;
  if (!outcome) return state;
  const named = outcome.toLowerCase().startsWith(state.replace(/-/g, ' '));
  return named ? outcome : `${state}: ${outcome}`;
}

class ChangeWatch {
  private readonly seen = new Set<string>();
  private lastState?: ChangeState;
  private readonly started = Date.now();
  private frame = 0;

  constructor(
    private readonly ctx: CliContext,
    private readonly change: ChangeRef,
  ) {}

  printTimeline(entries: TimelineEntry[]): void {
    const { out } = this.ctx;
    for (const entry of entries) {
      const key = entryKey(entry);
      if (this.seen.has(key)) continue;
      this.seen.add(key);
      if (this.ctx.json) {
        out.jsonLine({ kind: 'timeline', id: this.change.id, ...entry });
      } else {
        const detail = entry.detail ? `  ${entry.detail}` : '';
        out.line(
          `${out.colors.dim(formatTime(entry.at))}  ${entry.actor.padEnd(12)}  ${out.colors.bold(entry.event)}${detail}`,
        );
      }
    }
  }

  observe(status: ChangeStatus): void {
    this.printTimeline(status.timeline);
    if (status.state !== this.lastState) {
      this.lastState = status.state;
      if (this.ctx.json) {
        this.ctx.out.jsonLine({ kind: 'state', id: status.id, state: status.state });
      } else if (!isEndState(status.state)) {
        const { colors } = this.ctx.out;
        const waiting = waitingFor(status, new Date());
        this.ctx.out.line(
          `${stateColor(status.state, colors)(`▸ ${status.state}`)}${waiting ? colors.dim(` — waiting for ${waiting}`) : ''}`,
        );
      }
    }
  }

  /** Spins the progress line until the next poll is due (a plain sleep off a terminal). */
  async pause(status: ChangeStatus | undefined, ms: number): Promise<void> {
    const { out } = this.ctx;
    if (!out.isTTY || this.ctx.json) {
      await sleep(ms);
      return;
    }
    const until = Date.now() + ms;
    while (Date.now() < until) {
      const spinner = SPINNER[this.frame++ % SPINNER.length] ?? '';
      const elapsed = formatDuration(Math.floor((Date.now() - this.started) / 1000) * 1000);
      const waiting = status ? waitingFor(status, new Date()) : undefined;
      const state = status ? stateColor(status.state, out.colors)(status.state) : 'connecting';
      out.progress(
        `${out.colors.cyan(spinner)} ${state} · ${elapsed}${waiting ? ` · waiting for ${waiting}` : ''}`,
      );
      await sleep(Math.min(SPINNER_TICK_MS, Math.max(0, until - Date.now())));
    }
  }

  /** The ending from the workflow's result, for a change whose worker no longer answers queries. */
  async endingFromResult(): Promise<Ending | undefined> {
    const description = await this.change.handle.describe();
    if (description.status.name === 'RUNNING') return undefined;
    if (description.status.name !== 'COMPLETED') {
      return { state: 'failed', outcome: `workflow ${description.status.name.toLowerCase()}` };
    }
    const log = (await this.change.handle.result()) as ChangeLog;
    this.printTimeline(log.changeLog.timeline);
    return { state: log.changeLog.state, outcome: log.changeLog.change.result };
  }

  async run(intervalMs: number): Promise<Ending> {
    let status: ChangeStatus | undefined;
    let failingSince: number | undefined;
    for (;;) {
      try {
        status = await this.change.handle.query(statusQuery);
        failingSince = undefined;
      } catch (err) {
        if (isUnavailable(err)) throw err;
        const ending = await this.endingFromResult();
        if (ending) return ending;
        if (failingSince === undefined) {
          failingSince = Date.now();
          this.ctx.out.warn(
            `no answer from change ${this.change.id} (is the worker running?): ${err instanceof Error ? err.message : String(err)}`,
          );
        } else if (Date.now() - failingSince > UNANSWERED_LIMIT_MS) {
          throw err;
        }
      }
      if (status) {
        this.observe(status);
        if (isEndState(status.state)) return { state: status.state, outcome: status.outcome };
      }
      await this.pause(status, intervalMs);
    }
  }
}

export function watchCommand(program: Command, ctx: CliContext): void {
  program
    .command('watch')
    .description(
      'follow a change live until it ends (exit 0 completed, 1 rolled-back, failed, rejected or cancelled)',
    )
    .argument('<id>', 'change id, such as CHG-1234')
    .option('--interval <duration>', 'how often to ask the change for news', '1s')
    .action(async (id: string, raw: Record<string, unknown>) => {
      const input = parseInput(watchInput, { id, ...raw });
      const change = await ctx.change(input.id);
      const { out } = ctx;
      if (!ctx.json) {
        out.line(
          out.colors.dim(`watching ${input.id} (Ctrl-C stops watching; the change goes on)`),
        );
      }
      const ending = await new ChangeWatch(ctx, change).run(input.interval ?? 1_000);
      if (ctx.json) {
        out.jsonLine({ kind: 'end', id: input.id, state: ending.state, outcome: ending.outcome });
      }
      const how = describeEnding(ending);
      if (isUnsuccessful(ending.state)) {
        throw new CliError(ExitCode.Failed, `change ${input.id} ended: ${how}`);
      }
      if (!ctx.json) {
        out.line(`${out.colors.green('✓')} change ${out.colors.bold(input.id)} ended: ${how}`);
      }
    });
}
