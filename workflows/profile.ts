/**
 * What differs between lifecycles, said once: each lifecycle builds its profile from the
 * request and the policy, and the steps read it instead of asking which lifecycle they run in.
 */
import { parseDuration } from '../src/core/change/duration';
import type { WindowTarget } from '../src/core/policy/windows';
import type { ChangeActivities } from './activities';
import type { OperatorRequests } from './operator';
import type { ChangeRecord } from './record';
import type { ServiceLocks } from './steps/locks';
import type { Decisions } from './decisions';

/** What a failed Velero backup does: end the change, be recorded and go on, or no backup at all. */
export type BackupMode = 'required' | 'best-effort' | 'off';

export interface LifecycleProfile {
  /** The policy sees an emergency (through freezes); the lock queues it first. */
  emergency: boolean;
  preflight: {
    /** Firing alerts stop the change, or are recorded (expected during an incident). */
    alerts: 'block' | 'record';
    /** A baseline that cannot be captured stops the change, or the watch goes on without one. */
    baseline: 'block' | 'record';
    /** Whether pre-flight checks the window still has room (emergencies bypass windows). */
    window: 'check' | 'bypass';
  };
  backup: {
    mode: BackupMode;
    /** A hard limit on the backup, without retries; none: the backup retries for up to an hour. */
    timeoutMs?: number;
  };
  watch: {
    /** The watch period: the request's, raised to the policy's minimums. */
    watchMs: number;
    intervalMs: number;
    failureLimit: number;
    inconclusiveLimit: number;
  };
  /** An inconclusive watch rolls back, or holds for a human decision for `holdTimeout`. */
  inconclusive: { action: 'rollback' } | { action: 'hold'; holdTimeout: string };
}

/** The record, handler state and activities every step works with. */
export interface Run {
  record: ChangeRecord;
  /** Who sent each message, proved; the submission's proof and the change's scope. */
  decisions: Decisions;
  operator: OperatorRequests;
  locks: ServiceLocks;
  activities: ChangeActivities;
}

/** The longest of the durations given (undefined and unparsable count as 0). */
export function longestMs(...durations: (string | undefined)[]): number {
  return Math.max(...durations.map((d) => (d ? (parseDuration(d) ?? 0) : 0)));
}

export function windowTarget(record: ChangeRecord, profile: LifecycleProfile): WindowTarget {
  return {
    environment: record.request.spec.environment,
    services: record.request.spec.services,
    emergency: profile.emergency,
  };
}

/** Rollout timeout plus watch: the span a window must leave room for. */
export function neededMs(record: ChangeRecord, profile: LifecycleProfile): number {
  return (parseDuration(record.request.spec.rollout.timeout) ?? 0) + profile.watch.watchMs;
}
