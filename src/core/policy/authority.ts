/**
 * Who may do what to a change once it is submitted, beyond approving and rejecting (those are
 * in ./approvals): cancel, roll back, extend the watch, reschedule, decide an inconclusive
 * watch, and document an emergency. Pure: the workflow asks with the person its signature
 * proved, and refuses with the reason given here.
 */
import type { ChangeRequest } from '../change/request';
import type { StatementAction } from '../identity/statement';
import { checkKnownPerson, type ApprovalRecord, type Verdict } from './approvals';
import type { Policy } from './schema';
import { lookupByPattern } from './scope';

/** The actions that are not approvals: the operator's messages, and an emergency's record. */
export type OperatorAction = Extract<
  StatementAction,
  'cancel' | 'rollback' | 'extend' | 'reschedule' | 'decide' | 'document'
>;

export interface ChangeParties {
  policy: Policy;
  request: ChangeRequest;
  /** Teams the change's approvals require (the status's `approvals.required.teams`). */
  requiredTeams: readonly string[];
  /** Approvals given so far. */
  received: readonly ApprovalRecord[];
}

function teamsOf(policy: Policy, person: string): string[] {
  return Object.hasOwn(policy.spec.people, person) ? policy.spec.people[person]!.teams : [];
}

/** The teams that own the change's services, from the policy's approvals.services. */
export function serviceTeams(policy: Policy, request: ChangeRequest): string[] {
  const teams = new Set<string>();
  for (const service of request.spec.services) {
    for (const team of lookupByPattern(policy.spec.approvals.services, service)?.teams ?? []) {
      teams.add(team);
    }
  }
  return [...teams].sort();
}

/** An approver of this change: someone who approved it, or a member of a team it requires. */
function isApprover(parties: ChangeParties, person: string): boolean {
  if (parties.received.some((r) => r.by === person)) return true;
  return teamsOf(parties.policy, person).some((t) => parties.requiredTeams.includes(t));
}

function isIncidentCommander(policy: Policy, person: string): boolean {
  return Object.hasOwn(policy.spec.people, person) && policy.spec.people[person]!.incidentCommander;
}

function inServiceTeam(parties: ChangeParties, person: string): boolean {
  const owners = serviceTeams(parties.policy, parties.request);
  return teamsOf(parties.policy, person).some((t) => owners.includes(t));
}

const who: Record<OperatorAction, string> = {
  cancel: 'the requester, an approver, an incident commander or the service teams',
  rollback: 'the service teams or an incident commander',
  extend: 'the requester or an approver',
  reschedule: 'the requester or an approver',
  decide: 'someone from the required teams other than the requester',
  document: 'the requester or an incident commander',
};

/** Whether `person` may take `action` on this change; the refusal says who may. */
export function checkAuthority(
  parties: ChangeParties,
  action: OperatorAction,
  person: string,
): Verdict {
  const { policy, request } = parties;
  const known = checkKnownPerson(policy, person);
  if (!known.ok) return known;
  const requester = person === request.metadata.requestedBy;
  const ic = isIncidentCommander(policy, person);
  let allowed: boolean;
  switch (action) {
    case 'cancel':
      allowed = requester || ic || isApprover(parties, person) || inServiceTeam(parties, person);
      break;
    case 'rollback':
      allowed = ic || inServiceTeam(parties, person);
      break;
    case 'extend':
    case 'reschedule':
      allowed = requester || isApprover(parties, person);
      break;
    case 'decide': {
      // With no required team, the service teams decide; with neither, any approver but the requester.
      const deciders = parties.requiredTeams.length
        ? parties.requiredTeams
        : serviceTeams(policy, request);
      allowed =
        !requester &&
        (deciders.length === 0 || teamsOf(policy, person).some((t) => deciders.includes(t)));
      break;
    }
    case 'document':
      allowed = requester || ic;
      break;
  }
  if (allowed) return { ok: true };
  const teams = teamsOf(policy, person);
  return {
    ok: false,
    reason: `${person} (${teams.length ? `teams ${teams.join(', ')}` : 'no team'}${ic ? ', incident commander' : ''}${requester ? ', the requester' : ''}) may not ${action} this change: only ${who[action]} may`,
  };
}
