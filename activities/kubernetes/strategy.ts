/**
 * What differs between the rollout strategies, and the one switch that picks one. The activities
 * in index.ts do everything else the same way for rolling, blueGreen and canary.
 */
import type { RolloutStrategy } from '../../src/core/change/request';
import type {
  CleanupResult,
  DeploymentState,
  DryRunResult,
  RollbackInput,
  RollbackResult,
  RolloutPlan,
  RolloutResult,
  RolloutTarget,
} from '../../src/core/contracts';
import { blueGreen } from './blue-green';
import { canary } from './canary';
import type { ClusterApi } from './client';
import { rolling } from './rolling';
import type { Waiting } from './rollout';

/** What serves a target before its change, as a strategy sees it. */
export interface Serving {
  /** The deployment whose state a rollback returns to (checked before the change starts). */
  deployment: string;
  /** The command an operator would type to undo the change by hand, given that state. */
  rollbackCommand(current: DeploymentState): string;
}

export interface Strategy {
  /** What serves now; throws RollbackNotReady when the strategy could not switch back. */
  status(api: ClusterApi, target: RolloutTarget): Promise<Serving>;
  /** Has the server run every write `apply` would make, persisting nothing. */
  dryRun(waiting: Waiting, plan: RolloutPlan): Promise<DryRunResult>;
  /** Writes the change and waits until it is rolled out; safe to repeat. */
  apply(waiting: Waiting, plan: RolloutPlan): Promise<RolloutResult>;
  /** After a watch that passed: retires what the change replaced. */
  finalize(waiting: Waiting, input: { plan: RolloutPlan; rollout: RolloutResult }): Promise<void>;
  /** After the cleanup delay: deletes what `finalize` retired; absent: nothing to delete. */
  cleanup?(
    waiting: Waiting,
    input: { plan: RolloutPlan; rollout: RolloutResult },
  ): Promise<CleanupResult>;
  /** Undoes the change and waits until what served before serves again; safe to repeat. */
  rollback(waiting: Waiting, input: RollbackInput): Promise<RollbackResult>;
}

export function strategyFor(strategy: RolloutStrategy): Strategy {
  switch (strategy) {
    case 'blueGreen':
      return blueGreen;
    case 'canary':
      return canary;
    case 'rolling':
      return rolling;
  }
}
