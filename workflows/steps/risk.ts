import { assessRisk } from '../../src/core/policy/risk';
import type { Policy } from '../../src/core/policy/schema';
import { endChange, rootMessage } from '../failures';
import type { Run } from '../profile';
import { SYSTEM } from '../record';

/** Loads the policy and assesses the change's risk against it (policy may raise it, never lower). */
export async function assessRiskUnderPolicy({ record, activities }: Run): Promise<Policy> {
  let policy: Policy;
  try {
    policy = await activities.policyActivities.loadPolicy();
  } catch (err) {
    endChange('failed', `policy could not be loaded: ${rootMessage(err)}`);
  }
  const { notBefore } = record.status.window;
  const at = notBefore ? Date.parse(notBefore) : Date.now();
  const risk = assessRisk(policy, record.request, Math.max(at, Date.now()));
  record.setPolicy(policy, risk);
  record.record(
    SYSTEM,
    'risk assessed',
    risk.raisedBy.length
      ? `${risk.declared} raised to ${risk.level}: ${risk.raisedBy.join('; ')}`
      : `${risk.level} (as declared)`,
  );
  return policy;
}
