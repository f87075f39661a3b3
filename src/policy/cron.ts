import { CronExpressionParser } from 'cron-parser';
import { IANAZone } from 'luxon';

export function isValidTimeZone(zone: string): boolean {
  return IANAZone.isValidZone(zone);
}

/** Five fields exactly (minute hour day-of-month month day-of-week), as Argo CD windows use. */
export function isValidCron(schedule: string): boolean {
  if (schedule.trim().split(/\s+/).length !== 5) return false;
  // cron-parser reads `H` as a value hashed at random on every parse, so a window would move
  // between runs and between a workflow and its replay. (`THU` is the only name with an H.)
  if (/h/i.test(schedule.replace(/thu/gi, ''))) return false;
  try {
    CronExpressionParser.parse(schedule, { tz: 'UTC' });
    return true;
  } catch {
    return false;
  }
}
