/**
 * Maintenance-window arithmetic with Argo CD sync-window semantics. Pure and deterministic:
 * every time is an argument (epoch ms), nothing reads the clock, so workflows call these
 * functions directly and a replay computes the same answers.
 *
 * - A window occurrence starts each time its cron schedule fires in the window's time zone
 *   (window, else policy, else UTC) and lasts `duration` of real elapsed time.
 * - Wall-clock firing times that do not exist (a spring-forward gap: 02:30 on the day New York
 *   moves from 02:00 to 03:00) fire at the first instant after the gap (03:00 local). Times that
 *   happen twice (a fall-back overlap) fire once, at the first of the two. So a schedule firing
 *   more often than hourly does not fire during the repeated hour.
 * - Occurrences of one window that overlap or touch merge into one span, and so do the spans of
 *   all allow windows that apply to a target: a change may run across two allow occurrences
 *   when together they leave no gap.
 * - Deny occurrences and freezes cut the allowed time; where no allow window applies, all time
 *   that is not cut is allowed.
 * - Reported spans are clipped: a span already open at `from` starts no earlier than `from`
 *   minus the longest applicable allow window's duration, and a span that does not close within
 *   the horizon ends at the horizon.
 */
import { IANAZone } from 'luxon';
import { formatDuration, parseDuration } from '../change/duration';
import { cronFiresOnDay, isValidTimeZone, parseCronSchedule, type CronSchedule } from './cron';
import type { Policy, PolicyFreeze, PolicyWindow } from './schema';
import { matchesPattern } from './scope';

export interface WindowTarget {
  environment: string;
  services: string[];
  emergency?: boolean;
}

/** Epoch milliseconds, end exclusive. */
export interface Span {
  start: number;
  end: number;
}

/** An open span; `names` are the allow windows making it up, or [] where no allow window applies. */
export interface OpenWindow extends Span {
  names: string[];
}

export interface Blocker {
  kind: 'deny' | 'freeze' | 'outside-allow';
  name: string;
  until?: number;
  reason: string;
}

export type StartDecision =
  | { kind: 'now'; window?: OpenWindow }
  | { kind: 'wait'; start: number; window?: OpenWindow; blockers: Blocker[] }
  | { kind: 'never'; reason: string; blockers: Blocker[] };

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const DEFAULT_HORIZON_MS = 400 * DAY_MS;

// ---------------------------------------------------------------------------------------------
// Time zones

interface OffsetSegment {
  start: number;
  end: number;
  offset: number;
}

// Offsets are found by probing a week apart and bisecting where they differ, which assumes no
// zone changes its offset twice within a week (true of every IANA rule in use).
const PROBE_MS = 7 * DAY_MS;
const SEGMENT_REACH_MS = 366 * DAY_MS;
const MAX_SEGMENTS = 64;

/** A time zone's UTC offsets, learned lazily as constant-offset segments and remembered. */
class ZoneClock {
  private readonly zone: IANAZone | undefined;
  private segments: OffsetSegment[] = [];

  constructor(readonly name: string) {
    this.zone = name === 'UTC' ? undefined : IANAZone.create(name);
  }

  /** Milliseconds to add to an instant to get its wall-clock time in this zone. */
  offset(instant: number): number {
    if (!this.zone) return 0;
    for (const segment of this.segments) {
      if (segment.start <= instant && instant < segment.end) return segment.offset;
    }
    return this.learn(instant).offset;
  }

  /** Wall-clock time as epoch ms of the same calendar fields in UTC. */
  toWall(instant: number): number {
    return instant + this.offset(instant);
  }

  /**
   * The instant a wall-clock time names: the first of two in a fall-back overlap, the end of
   * the gap for a time a spring-forward skips.
   */
  toInstant(wall: number): number {
    // Any instant showing this wall time lies within 14 hours of it, and no zone changes its
    // offset twice in a day, so the offsets 14 hours either side are the only candidates.
    const before = this.offset(wall - 14 * HOUR_MS);
    const after = this.offset(wall + 14 * HOUR_MS);
    if (before === after) return wall - before;
    const early = wall - before;
    const late = wall - after;
    const earlyValid = this.offset(early) === before;
    const lateValid = this.offset(late) === after;
    if (earlyValid && lateValid) return Math.min(early, late);
    if (earlyValid) return early;
    if (lateValid) return late;
    return this.transitionBetween(Math.min(early, late), Math.max(early, late));
  }

  /** The first instant in (low, high] whose offset differs from low's. */
  private transitionBetween(low: number, high: number, offsetOf = (t: number) => this.offset(t)) {
    const from = offsetOf(low);
    while (high - low > 1) {
      const mid = Math.floor((low + high) / 2);
      if (offsetOf(mid) === from) low = mid;
      else high = mid;
    }
    return high;
  }

  private raw(instant: number): number {
    return Math.round((this.zone?.offset(instant) ?? 0) * MINUTE_MS);
  }

  private learn(instant: number): OffsetSegment {
    const offset = this.raw(instant);
    const raw = (t: number) => this.raw(t);
    let end = instant;
    for (;;) {
      const probe = end + PROBE_MS;
      if (probe - instant > SEGMENT_REACH_MS) break;
      if (this.raw(probe) !== offset) {
        end = this.transitionBetween(end, probe, raw);
        break;
      }
      end = probe;
    }
    let start = instant;
    for (;;) {
      const probe = start - PROBE_MS;
      if (instant - probe > SEGMENT_REACH_MS) break;
      if (this.raw(probe) !== offset) {
        start = this.transitionBetween(probe, start, raw);
        break;
      }
      start = probe;
    }
    const segment = { start, end: Math.max(end, instant + 1), offset };
    if (this.segments.length >= MAX_SEGMENTS) this.segments = [];
    this.segments.push(segment);
    return segment;
  }
}

const clocks = new Map<string, ZoneClock>();

function zoneClock(name: string): ZoneClock {
  let clock = clocks.get(name);
  if (!clock) {
    clock = new ZoneClock(name);
    clocks.set(name, clock);
  }
  return clock;
}

// ---------------------------------------------------------------------------------------------
// Window occurrences

interface CompiledWindow {
  source: PolicyWindow;
  name: string;
  kind: 'allow' | 'deny';
  durationMs: number;
  schedule: CronSchedule;
  clock: ZoneClock;
  /** Firing times of day, ms after local midnight, sorted. */
  times: number[];
  /** Runs of firing times (indexes into `times`) whose occurrences touch within a day. */
  runs: Array<[first: number, last: number]>;
}

function compileWindow(window: PolicyWindow, policy: Policy): CompiledWindow {
  const schedule = parseCronSchedule(window.schedule);
  const durationMs = parseDuration(window.duration);
  const timeZone = window.timeZone ?? policy.spec.timeZone ?? 'UTC';
  if (!schedule || durationMs === undefined || !isValidTimeZone(timeZone)) {
    // The policy schema refuses all three, so only an unvalidated policy gets here.
    throw new Error(
      `window '${window.name}' has an invalid schedule, duration or time zone (${window.schedule}, ${window.duration}, ${timeZone})`,
    );
  }
  const times = schedule.hours.flatMap((h) =>
    schedule.minutes.map((m) => h * HOUR_MS + m * MINUTE_MS),
  );
  const runs: Array<[number, number]> = [];
  times.forEach((time, i) => {
    const last = runs[runs.length - 1];
    if (last && time - (times[last[1]] ?? 0) <= durationMs) last[1] = i;
    else runs.push([i, i]);
  });
  return {
    source: window,
    name: window.name,
    kind: window.kind,
    durationMs,
    schedule,
    clock: zoneClock(timeZone),
    times,
    runs,
  };
}

function firesOnDay(window: CompiledWindow, day: number): boolean {
  const date = new Date(day * DAY_MS);
  return cronFiresOnDay(
    window.schedule,
    date.getUTCMonth() + 1,
    date.getUTCDate(),
    date.getUTCDay(),
  );
}

/** The occurrences of one run of firing times on one local day, merged, in order. */
function* runSpans(window: CompiledWindow, day: number, [first, last]: [number, number]) {
  const midnight = day * DAY_MS;
  const { clock, durationMs, times } = window;
  const firstWall = midnight + (times[first] ?? 0);
  const lastWall = midnight + (times[last] ?? 0);
  const start = clock.toInstant(firstWall);
  const lastStart = clock.toInstant(lastWall);
  if (lastStart - start === lastWall - firstWall) {
    yield { start, end: lastStart + durationMs };
    return;
  }
  // A clock change falls inside the run: real gaps between firings differ from wall-clock gaps.
  let current: Span | undefined;
  for (let i = first; i <= last; i++) {
    const at = clock.toInstant(midnight + (times[i] ?? 0));
    if (current && at <= current.end) current.end = Math.max(current.end, at + durationMs);
    else {
      if (current) yield current;
      current = { start: at, end: at + durationMs };
    }
  }
  if (current) yield current;
}

/**
 * A window's occurrences that end after `from`, merged where they overlap or touch, in order.
 * Stops at the first occurrence starting after `limit`; the last span may be cut there.
 */
function* windowSpans(window: CompiledWindow, from: number, limit: number): Generator<Span> {
  const firstDay = Math.floor(window.clock.toWall(from - window.durationMs) / DAY_MS) - 1;
  const lastDay = Math.floor(window.clock.toWall(limit) / DAY_MS) + 1;
  let pending: Span | undefined;
  for (let day = firstDay; day <= lastDay; day++) {
    if (!firesOnDay(window, day)) continue;
    for (const run of window.runs) {
      for (const span of runSpans(window, day, run)) {
        if (span.start > limit) {
          if (pending && pending.end > from) yield pending;
          return;
        }
        if (pending && span.start <= pending.end) pending.end = Math.max(pending.end, span.end);
        else {
          if (pending && pending.end > from) yield pending;
          pending = { ...span };
        }
      }
    }
  }
  if (pending && pending.end > from) yield pending;
}

interface NamedSpan extends Span {
  name: string;
}

function* named(name: string, spans: Iterable<Span>): Generator<NamedSpan> {
  for (const span of spans) yield { ...span, name };
}

interface MergedSpan extends Span {
  parts: NamedSpan[];
}

/** Sorted streams of spans merged into one, joining spans that overlap or touch. */
function* unionSpans(streams: Array<Iterator<NamedSpan>>): Generator<MergedSpan> {
  const heads = streams.map((stream) => stream.next());
  let current: MergedSpan | undefined;
  for (;;) {
    let next = -1;
    heads.forEach((head, i) => {
      const best = heads[next];
      if (!head.done && (!best || best.done || head.value.start < best.value.start)) next = i;
    });
    const head = heads[next];
    const stream = streams[next];
    if (!head || head.done || !stream) break;
    const span = head.value;
    heads[next] = stream.next();
    if (current && span.start <= current.end) {
      current.end = Math.max(current.end, span.end);
      current.parts.push(span);
    } else {
      if (current) yield current;
      current = { start: span.start, end: span.end, parts: [span] };
    }
  }
  if (current) yield current;
}

/** The parts of each base span that no cut covers, in order. */
function* subtractSpans<T extends Span>(
  bases: Iterable<T>,
  cuts: Iterator<Span>,
): Generator<Span & { base: T }> {
  let cut = cuts.next();
  for (const base of bases) {
    let cursor = base.start;
    while (!cut.done && cut.value.end <= cursor) cut = cuts.next();
    while (!cut.done && cut.value.start < base.end) {
      if (cut.value.start > cursor) yield { start: cursor, end: cut.value.start, base };
      cursor = Math.max(cursor, cut.value.end);
      // A cut reaching past this base may cover the next one too.
      if (cut.value.end > base.end) break;
      cut = cuts.next();
    }
    if (cursor < base.end) yield { start: cursor, end: base.end, base };
  }
}

// ---------------------------------------------------------------------------------------------
// Policy rules for a target

export function matchesScope(patterns: string[] | undefined, values: string[]): boolean {
  if (patterns === undefined) return true;
  return values.some((value) => patterns.some((pattern) => matchesPattern(pattern, value)));
}

interface Rules {
  allows: CompiledWindow[];
  denies: CompiledWindow[];
  freezes: Array<PolicyFreeze & Span>;
  /** Spans open at a time are reported from no earlier than this before it. */
  lookbackMs: number;
}

function rulesFor(policy: Policy, target: WindowTarget): Rules {
  const windows = policy.spec.windows
    .filter(
      (w) =>
        matchesScope(w.environments, [target.environment]) &&
        matchesScope(w.services, target.services),
    )
    .map((w) => compileWindow(w, policy));
  const allows = windows.filter((w) => w.kind === 'allow');
  return {
    allows,
    denies: windows.filter((w) => w.kind === 'deny'),
    freezes: policy.spec.freezes
      .filter((f) => matchesScope(f.environments, [target.environment]))
      .map((f) => ({ ...f, start: Date.parse(f.from), end: Date.parse(f.to) }))
      .sort((a, b) => a.start - b.start),
    lookbackMs: Math.max(0, ...allows.map((w) => w.durationMs)),
  };
}

function isUnrestricted(rules: Rules): boolean {
  return rules.allows.length === 0 && rules.denies.length === 0 && rules.freezes.length === 0;
}

/** Freezes and deny occurrences ending after `from`, merged, in order. */
function blockedSpans(rules: Rules, from: number, limit: number): Generator<MergedSpan> {
  return unionSpans([
    named(
      '',
      rules.freezes.filter((f) => f.end > from).map((f) => ({ start: f.start, end: f.end })),
    ),
    ...rules.denies.map((w) => named(w.name, windowSpans(w, from, limit))),
  ]);
}

/** Time in which changes may run, from `from` on, as maximal spans in order. */
function* openSpans(rules: Rules, from: number, limit: number): Generator<OpenWindow> {
  const bases: Iterable<MergedSpan> =
    rules.allows.length > 0
      ? unionSpans(rules.allows.map((w) => named(w.name, windowSpans(w, from, limit))))
      : [{ start: from, end: limit, parts: [] }];
  for (const piece of subtractSpans(bases, blockedSpans(rules, from, limit))) {
    const start = Math.max(piece.start, from);
    if (start >= piece.end) continue;
    const names = piece.base.parts
      .filter((part) => part.start < piece.end && part.end > start)
      .map((part) => part.name);
    yield { start, end: piece.end, names: [...new Set(names)] };
  }
}

// ---------------------------------------------------------------------------------------------
// Text

function isoTime(instant: number): string {
  return new Date(instant).toISOString().replace('.000Z', 'Z');
}

function describeWallTime(instant: number, clock: ZoneClock): string {
  const wall = new Date(clock.toWall(instant)).toISOString();
  return `${wall.slice(0, 10)} ${wall.slice(11, 16)} ${clock.name}`;
}

/** A span in its window's zone: `08:00–18:00 UTC`, with dates when it lasts over a day. */
function describeSpan(span: Span, clock: ZoneClock): string {
  if (span.end - span.start > DAY_MS) {
    return `${describeWallTime(span.start, clock).slice(0, -clock.name.length - 1)}–${describeWallTime(span.end, clock)}`;
  }
  const clockTime = (instant: number) =>
    new Date(clock.toWall(instant)).toISOString().slice(11, 16);
  return `${clockTime(span.start)}–${clockTime(span.end)} ${clock.name}`;
}

function describeHorizon(horizonMs: number): string {
  if (horizonMs % DAY_MS === 0) {
    const days = horizonMs / DAY_MS;
    return `${days} day${days === 1 ? '' : 's'}`;
  }
  return formatDuration(horizonMs);
}

// ---------------------------------------------------------------------------------------------
// Answers

/**
 * When a change needing `neededMs` (rollout timeout + watch) may start, at `from` or later.
 * Emergency targets are never held by windows or freezes. The horizon counts from the earliest
 * start allowed (`from`, or `notBefore` when later); `blockers` are what stands in the way at
 * `from` (empty when only `notBefore` holds the change back).
 */
export function nextAllowedStart(
  policy: Policy,
  target: WindowTarget,
  from: number,
  neededMs: number,
  options: { notBefore?: number; horizonMs?: number } = {},
): StartDecision {
  const earliest = Math.max(from, options.notBefore ?? from);
  const horizonMs = options.horizonMs ?? DEFAULT_HORIZON_MS;
  const rules = rulesFor(policy, target);
  if (target.emergency || isUnrestricted(rules)) {
    return earliest === from ? { kind: 'now' } : { kind: 'wait', start: earliest, blockers: [] };
  }
  const need = Math.max(1, neededMs);
  const latestStart = earliest + horizonMs;
  for (const window of openSpans(rules, earliest - rules.lookbackMs, latestStart + need)) {
    const start = Math.max(window.start, earliest);
    if (start > latestStart) break;
    if (window.end - start < need) continue;
    if (start === from) return { kind: 'now', window };
    return { kind: 'wait', start, window, blockers: blockersAt(policy, target, from, neededMs) };
  }
  return {
    kind: 'never',
    reason: `no window within ${describeHorizon(horizonMs)} leaves room for ${formatDuration(need)}`,
    blockers: blockersAt(policy, target, from, neededMs),
  };
}

/**
 * What stands in the way of [at, at + neededMs) — used to record bypasses of emergency changes
 * and to re-check "still inside the window" at pre-flight. Empty means allowed. Freezes count
 * even for emergency targets here (the caller decides what to bypass).
 */
export function blockersAt(
  policy: Policy,
  target: WindowTarget,
  at: number,
  neededMs: number,
): Blocker[] {
  const rules = rulesFor(policy, target);
  const need = Math.max(1, neededMs);
  const end = at + need;
  const limit = end + DEFAULT_HORIZON_MS;
  const blockers: Blocker[] = [];
  for (const freeze of rules.freezes) {
    if (freeze.start < end && freeze.end > at) {
      blockers.push({
        kind: 'freeze',
        name: freeze.name,
        until: freeze.end,
        reason: `freeze '${freeze.name}': ${freeze.reason}, until ${isoTime(freeze.end)}`,
      });
    }
  }
  for (const deny of rules.denies) {
    const found = windowSpans(deny, at, limit).next();
    if (found.done || found.value.start >= end) continue;
    const span = found.value;
    blockers.push(
      span.end >= limit
        ? {
            kind: 'deny',
            name: deny.name,
            reason: `deny window '${deny.name}' ('${deny.source.schedule}' for ${deny.source.duration}, ${deny.clock.name}) does not end within ${describeHorizon(DEFAULT_HORIZON_MS)}`,
          }
        : {
            kind: 'deny',
            name: deny.name,
            until: span.end,
            reason: `deny window '${deny.name}' (${describeSpan(span, deny.clock)}) until ${isoTime(span.end)}`,
          },
    );
  }
  if (rules.allows.length === 0) return blockers;
  const open = unionSpans(rules.allows.map((w) => named(w.name, windowSpans(w, at, limit))));
  let covering: MergedSpan | undefined;
  for (const span of open) {
    if (span.end <= at) continue;
    if (span.start <= at) covering = span;
    break;
  }
  if (covering && covering.end >= end) return blockers;
  for (const allow of rules.allows) {
    let current: Span | undefined;
    let next: Span | undefined;
    for (const span of windowSpans(allow, at, limit)) {
      if (span.start <= at) current = span;
      else {
        next = span;
        break;
      }
    }
    const opens = next
      ? `next opens ${isoTime(next.start)}`
      : `does not open again within ${describeHorizon(DEFAULT_HORIZON_MS)}`;
    const reason =
      current && covering
        ? `allow window '${allow.name}' (${describeSpan(current, allow.clock)}) closes at ${isoTime(covering.end)}, too soon for ${formatDuration(need)} (${opens})`
        : `outside allow window '${allow.name}' (${opens})`;
    blockers.push({
      kind: 'outside-allow',
      name: allow.name,
      ...(next ? { until: next.start } : {}),
      reason,
    });
  }
  return blockers;
}

/**
 * The next `count` spans in which a change of neededMs could start (for `changectl windows`):
 * each is the open span and the latest start that still fits. A span already open at `from`
 * is included while it still has room. Shows the policy as it holds planned changes, whatever
 * the target's `emergency`.
 */
export function upcomingWindows(
  policy: Policy,
  target: WindowTarget,
  from: number,
  count: number,
  neededMs: number,
): Array<OpenWindow & { latestStart: number }> {
  const rules = rulesFor(policy, target);
  const need = Math.max(1, neededMs);
  const upcoming: Array<OpenWindow & { latestStart: number }> = [];
  if (count <= 0) return upcoming;
  const latestStart = from + DEFAULT_HORIZON_MS;
  for (const window of openSpans(rules, from - rules.lookbackMs, latestStart + need)) {
    const start = Math.max(window.start, from);
    if (start > latestStart) break;
    if (window.end - start < need) continue;
    upcoming.push({ ...window, latestStart: window.end - need });
    if (upcoming.length >= count) break;
  }
  return upcoming;
}
