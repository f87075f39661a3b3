import { DateTime } from 'luxon';
import type { ChangeRequest, RiskLevel } from '../change/request';
import { riskLevels } from '../change/request';
import type { Policy } from './schema';
import { matchesPattern } from './scope';

export interface RiskAssessment {
  declared: RiskLevel;
  level: RiskLevel;
  /** The policy rules that raised the level, e.g. "friday afternoon → high". */
  raisedBy: string[];
}

export function riskRank(level: RiskLevel): number {
  return riskLevels.indexOf(level);
}

export function maxRisk(a: RiskLevel, b: RiskLevel): RiskLevel {
  return riskRank(a) >= riskRank(b) ? a : b;
}

const CONFIG_KINDS = new Set(['ConfigMap', 'Secret']);

/** A change whose manifests are all configuration: the seed's "it's just a config change". */
export function isConfigOnly(request: ChangeRequest): boolean {
  const manifests = request.spec.rollout.manifests;
  return (
    manifests !== undefined &&
    manifests.length > 0 &&
    manifests.every((m) => CONFIG_KINDS.has(String(m.kind)))
  );
}

function minutesOf(clock: string): number {
  const [h, m] = clock.split(':').map(Number);
  return (h ?? 0) * 60 + (m ?? 0);
}

/**
 * The risk of a change per policy: the declared level raised by every rule that matches, never
 * lowered. `at` is when the change is expected to run (its notBefore, or the submission time).
 */
export function assessRisk(policy: Policy, request: ChangeRequest, at: number): RiskAssessment {
  const { spec } = request;
  const hours = policy.spec.risk.businessHours;
  const local = DateTime.fromMillis(at, { zone: hours.timeZone ?? policy.spec.timeZone });
  const weekday = local.setLocale('en-US').weekdayLong?.toLowerCase() ?? '';
  const minute = local.hour * 60 + local.minute;
  const inBusinessHours =
    (hours.days as string[]).includes(weekday) &&
    minute >= minutesOf(hours.start) &&
    minute < minutesOf(hours.end);
  const fridayAfternoon = local.weekday === 5 && local.hour >= 12;

  let level: RiskLevel = spec.risk;
  const raisedBy: string[] = [];
  for (const rule of policy.spec.risk.rules) {
    const w = rule.when;
    const matches =
      (w.environments === undefined ||
        w.environments.some((p) => matchesPattern(p, spec.environment))) &&
      (w.servicesAtLeast === undefined || spec.services.length >= w.servicesAtLeast) &&
      (w.configOnly === undefined || isConfigOnly(request)) &&
      (w.fridayAfternoon === undefined || fridayAfternoon) &&
      (w.outsideBusinessHours === undefined || !inBusinessHours) &&
      (w.strategies === undefined || w.strategies.includes(spec.rollout.strategy));
    if (matches && riskRank(rule.atLeast) > riskRank(level)) {
      level = rule.atLeast;
      raisedBy.push(`${rule.name} → ${rule.atLeast}`);
    } else if (matches && riskRank(rule.atLeast) > riskRank(spec.risk)) {
      raisedBy.push(`${rule.name} → ${rule.atLeast}`);
    }
  }
  return { declared: spec.risk, level, raisedBy };
}
