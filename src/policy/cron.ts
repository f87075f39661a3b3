import { CronExpressionParser } from 'cron-parser';
import { IANAZone } from 'luxon';

export function isValidTimeZone(zone: string): boolean {
  return IANAZone.isValidZone(zone);
}

/** Five fields exactly (minute hour day-of-month month day-of-week), as Argo CD windows use. */
export function isValidCron(schedule: string): boolean {
  if (schedule.trim().split(/\s+/).length !== 5) return false;
  try {
    CronExpressionParser.parse(schedule, { tz: 'UTC' });
    return true;
  } catch {
    return false;
  }
}
