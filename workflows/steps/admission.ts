import { checkScope } from '../../src/core/policy/scope';
import { checkStandardChange } from '../../src/core/policy/standard-changes';
import type { Policy } from '../../src/core/policy/schema';
import { endChange } from '../failures';
import type { Run } from '../profile';

/**
 * Admission, as soon as the policy is loaded and before anything is locked, backed up or rolled
 * out: the submission is the requester's own signed word on this very request, the change stays
 * inside the environment that owns its namespace and its declared services, and a standard
 * change fits the policy template it names. Otherwise the change ends rejected, saying why.
 */
export function admit({ record, decisions }: Run, policy: Policy): void {
  if (!decisions.enforced) return;
  const requester = record.request.metadata.requestedBy;
  const refused = decisions.admitSubmission(record.submission);
  if (refused !== undefined) {
    record.record(requester, 'submission refused', refused);
    endChange('rejected', `submission refused: ${refused}`);
  }
  const outside = [
    ...checkScope(record.request, policy),
    ...checkStandardChange(record.request, policy, record.status.risk),
  ];
  if (outside.length > 0) {
    const reasons = outside.map((r) => `${r.field}: ${r.reason}`).join('; ');
    record.record('policy', 'outside its scope', reasons);
    endChange('rejected', `refused by policy ${policy.metadata.name}: ${reasons}`);
  }
}
