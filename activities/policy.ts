import { ApplicationFailure } from '@temporalio/common';
import { ValidationError } from '../src/core/change/validation';
import type { PolicyActivities } from '../src/core/contracts';
import { FailureType } from '../src/core/errors';
import { loadPolicyFile } from '../src/load/policy';
import type { Policy } from '../src/core/policy/schema';

/**
 * The policy the worker is configured with, read fresh on every call so that a platform team's
 * edit applies to the next change; the workflow records what it got in its history.
 */
export function createPolicyActivities(policyPath: string): PolicyActivities {
  return {
    async loadPolicy(): Promise<Policy> {
      try {
        return await loadPolicyFile(policyPath);
      } catch (err) {
        if (err instanceof ValidationError) {
          throw ApplicationFailure.create({
            message: err.message,
            type: FailureType.InvalidPolicy,
            nonRetryable: true,
            details: [err.issues],
          });
        }
        throw err;
      }
    },
  };
}
