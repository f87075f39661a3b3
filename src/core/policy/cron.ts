import { IANAZone } from 'luxon';

/**
 * Five-field cron schedules (minute hour day-of-month month day-of-week) with the syntax of
 * Argo CD's sync windows (robfig/cron): numbers, `*`, `?`, ranges, steps, lists, and month and
 * weekday names. Parsed here rather than by cron-parser because workflow code evaluates
 * windows: cron-parser's package entry loads a crontab-file reader that requires `fs`, which a
 * workflow bundle may not contain, and its `H` fields hash to a different value on every parse.
 */
export interface CronSchedule {
  /** Sorted minutes of the hour, 0-59. */
  readonly minutes: readonly number[];
  /** Sorted hours of the day, 0-23. */
  readonly hours: readonly number[];
  /** Index 1-31. */
  readonly daysOfMonth: readonly boolean[];
  /** Index 1-12. */
  readonly months: readonly boolean[];
  /** Index 0-6, 0 = Sunday. */
  readonly daysOfWeek: readonly boolean[];
  /**
   * Whether day-of-month or day-of-week is `*` or `?`. When both are restricted, a day matches
   * either (`0 2 1 * 1` fires on the 1st and on Mondays), as in Vixie cron and robfig/cron.
   */
  readonly anyDayOfMonth: boolean;
  readonly anyDayOfWeek: boolean;
}

interface FieldRange {
  min: number;
  max: number;
  names?: readonly string[];
}

const MONTH_NAMES = [
  'jan',
  'feb',
  'mar',
  'apr',
  'may',
  'jun',
  'jul',
  'aug',
  'sep',
  'oct',
  'nov',
  'dec',
];
const WEEKDAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

const MINUTE: FieldRange = { min: 0, max: 59 };
const HOUR: FieldRange = { min: 0, max: 23 };
const DAY_OF_MONTH: FieldRange = { min: 1, max: 31 };
const MONTH: FieldRange = { min: 1, max: 12, names: MONTH_NAMES };
// 7 is Sunday too, as most crontabs allow.
const DAY_OF_WEEK: FieldRange = { min: 0, max: 7, names: WEEKDAY_NAMES };

function parseValue(text: string, range: FieldRange): number | undefined {
  if (/^\d+$/.test(text)) {
    const value = Number(text);
    return value >= range.min && value <= range.max ? value : undefined;
  }
  const index = range.names?.indexOf(text.toLowerCase()) ?? -1;
  if (index < 0) return undefined;
  return range === MONTH ? index + 1 : index;
}

/** The values a field allows, or undefined when it is not valid. */
function parseField(field: string, range: FieldRange): boolean[] | undefined {
  const allowed = new Array<boolean>(range.max + 1).fill(false);
  for (const part of field.split(',')) {
    const [span, stepText, ...extra] = part.split('/');
    if (span === undefined || extra.length > 0) return undefined;
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText)) return undefined;
      step = Number(stepText);
      if (step < 1) return undefined;
    }
    let low: number | undefined;
    let high: number | undefined;
    if (span === '*' || span === '?') {
      low = range.min;
      high = range.max;
    } else {
      const bounds = span.split('-');
      if (bounds.length > 2) return undefined;
      low = parseValue(bounds[0] ?? '', range);
      // `5/15` means from 5 to the end of the range in steps of 15.
      high = bounds.length === 2 ? parseValue(bounds[1] ?? '', range) : stepText ? range.max : low;
    }
    if (low === undefined || high === undefined || low > high) return undefined;
    for (let value = low; value <= high; value += step) allowed[value] = true;
  }
  return allowed;
}

function isAny(field: string): boolean {
  return field === '*' || field === '?' || field === '*/1';
}

function selected(allowed: boolean[]): number[] {
  return allowed.flatMap((on, value) => (on ? [value] : []));
}

/** The schedule's fields, or undefined when it is not a valid five-field schedule. */
export function parseCronSchedule(schedule: string): CronSchedule | undefined {
  const fields = schedule.trim().split(/\s+/);
  if (fields.length !== 5) return undefined;
  const [minuteField, hourField, dayOfMonthField, monthField, dayOfWeekField] = fields as [
    string,
    string,
    string,
    string,
    string,
  ];
  // `?` only stands for "any day"; in the other fields it is a typo.
  if ([minuteField, hourField, monthField].some((f) => f.includes('?'))) return undefined;
  const minutes = parseField(minuteField, MINUTE);
  const hours = parseField(hourField, HOUR);
  const daysOfMonth = parseField(dayOfMonthField, DAY_OF_MONTH);
  const months = parseField(monthField, MONTH);
  const weekdays = parseField(dayOfWeekField, DAY_OF_WEEK);
  if (!minutes || !hours || !daysOfMonth || !months || !weekdays) return undefined;
  const daysOfWeek = weekdays.slice(0, 7);
  if (weekdays[7]) daysOfWeek[0] = true;
  return {
    minutes: selected(minutes),
    hours: selected(hours),
    daysOfMonth,
    months,
    daysOfWeek,
    anyDayOfMonth: isAny(dayOfMonthField),
    anyDayOfWeek: isAny(dayOfWeekField),
  };
}

/** Whether the schedule fires on a calendar day (month 1-12, weekday 0 = Sunday). */
export function cronFiresOnDay(
  schedule: CronSchedule,
  month: number,
  dayOfMonth: number,
  weekday: number,
): boolean {
  if (!schedule.months[month]) return false;
  const byDayOfMonth = schedule.daysOfMonth[dayOfMonth] === true;
  const byDayOfWeek = schedule.daysOfWeek[weekday] === true;
  if (schedule.anyDayOfMonth || schedule.anyDayOfWeek) return byDayOfMonth && byDayOfWeek;
  return byDayOfMonth || byDayOfWeek;
}

// Luxon checks a zone by building an Intl.DateTimeFormat, about a quarter of a millisecond each
// time; a zone's validity does not change while the process runs.
const zoneValidity = new Map<string, boolean>();

export function isValidTimeZone(zone: string): boolean {
  let valid = zoneValidity.get(zone);
  if (valid === undefined) {
    valid = IANAZone.isValidZone(zone);
    if (zoneValidity.size < 1_000) zoneValidity.set(zone, valid);
  }
  return valid;
}

/** Five fields exactly (minute hour day-of-month month day-of-week), as Argo CD windows use. */
export function isValidCron(schedule: string): boolean {
  return parseCronSchedule(schedule) !== undefined;
}
