import type { ChangeRequest, RiskLevel } from '../change/request';
import type { Policy } from './schema';
import { lookupByPattern, matchesPattern } from './scope';
import { riskRank } from './risk';

export interface ApprovalRequirement {
  /** Distinct approvers needed; 0 when the change is pre-approved. */
  minApprovers: number;
  /** Teams that must each have at least one member among the approvers. */
  teams: string[];
  preApproved: boolean;
  /** Where each part of the requirement comes from, for the change log. */
  reasons: string[];
}

export interface ApprovalRecord {
  by: string;
  at: string;
  comment?: string;
  /** The fingerprint of the key that signed it. */
  fingerprint?: string;
  /** Taken on the stated name alone (policy identity.mode: names). */
  unverified?: true;
}

export interface QuorumStatus {
  met: boolean;
  /** Approvers still needed to reach the minimum count. */
  moreApprovers: number;
  /** Required teams with no approver yet. */
  missingTeams: string[];
  /** e.g. "needs 1 more approver, including someone from sre" */
  summary: string;
}

/** `notReady`: not a refusal of the person, only of the moment (the policy is not loaded yet). */
export type Verdict = { ok: true } | { ok: false; reason: string; notReady?: true };

/** What a change needs before it may be scheduled: environment, service teams and risk. */
export function requiredApprovals(
  policy: Policy,
  request: ChangeRequest,
  risk: RiskLevel,
): ApprovalRequirement {
  const { approvals } = policy.spec;
  const { spec } = request;
  const reasons: string[] = [];

  if (
    spec.type === 'standard' &&
    approvals.standardPreApproved.some((p) => matchesPattern(p, spec.environment)) &&
    riskRank(risk) <= riskRank('medium')
  ) {
    return {
      minApprovers: 0,
      teams: [],
      preApproved: true,
      reasons: [`standard change pre-approved in ${spec.environment}`],
    };
  }

  let minApprovers = lookupByPattern(approvals.environments, spec.environment)?.minApprovers ?? 1;
  reasons.push(`${spec.environment}: ${minApprovers} approver${minApprovers === 1 ? '' : 's'}`);
  const teams = new Set<string>();
  for (const service of spec.services) {
    const rule = lookupByPattern(approvals.services, service);
    if (rule) {
      rule.teams.forEach((t) => teams.add(t));
      reasons.push(`${service}: ${rule.teams.join(', ')}`);
    }
  }
  const byRisk = policy.spec.risk.requires[risk];
  if (byRisk) {
    if (byRisk.minApprovers !== undefined && byRisk.minApprovers > minApprovers) {
      minApprovers = byRisk.minApprovers;
      reasons.push(`${risk} risk: ${byRisk.minApprovers} approvers`);
    }
    if (byRisk.teams?.length) {
      byRisk.teams.forEach((t) => teams.add(t));
      reasons.push(`${risk} risk: ${byRisk.teams.join(', ')}`);
    }
  }
  if (spec.type === 'standard') reasons.push('standard change not pre-approved here');
  return {
    minApprovers: Math.max(minApprovers, 1),
    teams: [...teams].sort(),
    preApproved: false,
    reasons,
  };
}

function teamsOf(policy: Policy, person: string): string[] {
  return policy.spec.people[person]?.teams ?? [];
}

export function quorumStatus(
  policy: Policy,
  requirement: ApprovalRequirement,
  received: readonly ApprovalRecord[],
): QuorumStatus {
  const distinct = new Set(received.map((r) => r.by));
  const covered = new Set([...distinct].flatMap((p) => teamsOf(policy, p)));
  const missingTeams = requirement.teams.filter((t) => !covered.has(t));
  const moreApprovers = Math.max(0, requirement.minApprovers - distinct.size);
  const met = moreApprovers === 0 && missingTeams.length === 0;
  let summary = 'approvals complete';
  if (!met) {
    const parts: string[] = [];
    if (moreApprovers > 0)
      parts.push(`${moreApprovers} more approver${moreApprovers === 1 ? '' : 's'}`);
    if (missingTeams.length > 0) {
      parts.push(`someone from ${missingTeams.join(' and someone from ')}`);
    }
    summary = `needs ${parts.join(', including ')}`;
  }
  return { met, moreApprovers, missingTeams, summary };
}

/** Whether `by` is in the policy's people directory. */
export function checkKnownPerson(policy: Policy, by: string): Verdict {
  if (!Object.hasOwn(policy.spec.people, by)) {
    return { ok: false, reason: `unknown person '${by}': not in the policy's people directory` };
  }
  return { ok: true };
}

/** What every decision on a change needs: still open, a known person, not the requester. */
function checkDecider(
  policy: Policy,
  request: ChangeRequest,
  by: string,
  decided: string | undefined,
  selfReason: string,
): Verdict {
  if (decided !== undefined) return { ok: false, reason: `decision already made: ${decided}` };
  const known = checkKnownPerson(policy, by);
  if (!known.ok) return known;
  if (by === request.metadata.requestedBy) return { ok: false, reason: selfReason };
  return { ok: true };
}

/**
 * Whether `by` may approve now. Refused: a decision already made, an unknown person,
 * self-approval, a second approval by the same person, and an approver who cannot bring the
 * quorum closer because only members of a still-missing team can.
 */
export function checkApproval(
  policy: Policy,
  request: ChangeRequest,
  requirement: ApprovalRequirement,
  received: readonly ApprovalRecord[],
  by: string,
  decided: string | undefined,
): Verdict {
  const decider = checkDecider(
    policy,
    request,
    by,
    decided,
    `self-approval: ${by} requested this change`,
  );
  if (!decider.ok) return decider;
  const earlier = received.find((r) => r.by === by);
  if (earlier) return { ok: false, reason: `already approved: ${by} approved at ${earlier.at}` };
  const status = quorumStatus(policy, requirement, received);
  const helpsTeams = teamsOf(policy, by).some((t) => status.missingTeams.includes(t));
  if (
    !helpsTeams &&
    status.missingTeams.length > 0 &&
    status.moreApprovers <= status.missingTeams.length
  ) {
    return {
      ok: false,
      reason: `not in a required team: ${by} is in ${teamsOf(policy, by).join(', ') || 'no team'}; still needed: someone from ${status.missingTeams.join(', ')}`,
    };
  }
  return { ok: true };
}

/** Whether `by` may reject: anyone in the directory but the requester, until a decision. */
export function checkRejection(
  policy: Policy,
  request: ChangeRequest,
  by: string,
  decided: string | undefined,
): Verdict {
  return checkDecider(
    policy,
    request,
    by,
    decided,
    `self-rejection: ${by} requested this change; cancel it instead`,
  );
}

/** Emergency changes: one approval from an incident commander who is not the requester. */
export function checkIncidentCommanderApproval(
  policy: Policy,
  request: ChangeRequest,
  by: string,
  decided: string | undefined,
): Verdict {
  const decider = checkDecider(
    policy,
    request,
    by,
    decided,
    `self-approval: ${by} requested this change`,
  );
  if (!decider.ok) return decider;
  if (!policy.spec.people[by]?.incidentCommander) {
    return {
      ok: false,
      reason: `not an incident commander: ${by} is not listed as one in the policy`,
    };
  }
  return { ok: true };
}

export function incidentCommanders(policy: Policy): string[] {
  return Object.entries(policy.spec.people)
    .filter(([, p]) => p.incidentCommander)
    .map(([name]) => name)
    .sort();
}
