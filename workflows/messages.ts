import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { ChangeStatus } from '../src/core/lifecycle/status';

/** Every operator message names who sends it: the CLI's `--as`, or the UI user. */
export interface Actor {
  actor: string;
}

export interface ApprovalInput extends Actor {
  comment?: string;
}
export interface RejectionInput extends Actor {
  reason: string;
}
export interface CancelInput extends Actor {
  reason: string;
}
export interface RollbackRequest extends Actor {
  reason: string;
  restoreBackup?: boolean;
}
export interface ExtendInput extends Actor {
  /** A duration such as '10m'. */
  duration: string;
}
export interface RescheduleInput extends Actor {
  /** RFC 3339 timestamp. */
  notBefore: string;
}
export interface DecisionInput extends Actor {
  decision: 'proceed' | 'rollback';
  reason?: string;
}
export interface DocumentationInput extends Actor {
  rootCause: string;
  changed: string;
  /** Link to the post-incident review. */
  pir: string;
}

/** What an accepted update answers: the state after it and what is still missing. */
export interface MessageAck {
  state: ChangeStatus['state'];
  summary: string;
}

export const statusQuery = defineQuery<ChangeStatus>('status');

export const approveSignal = defineSignal<[ApprovalInput]>('approve');
export const approveUpdate = defineUpdate<MessageAck, [ApprovalInput]>('approve');
export const rejectSignal = defineSignal<[RejectionInput]>('reject');
export const rejectUpdate = defineUpdate<MessageAck, [RejectionInput]>('reject');

export const cancelSignal = defineSignal<[CancelInput]>('cancel');
export const rollbackSignal = defineSignal<[RollbackRequest]>('rollback');
export const extendSignal = defineSignal<[ExtendInput]>('extend');
export const rescheduleSignal = defineSignal<[RescheduleInput]>('reschedule');
export const decideSignal = defineSignal<[DecisionInput]>('decide');

export const documentSignal = defineSignal<[DocumentationInput]>('document');
export const documentUpdate = defineUpdate<MessageAck, [DocumentationInput]>('document');

// The per-service lock (see lock.ts).
export interface LockRequest {
  lockId: string;
  changeId: string;
  workflowId: string;
  emergency: boolean;
}
export interface LockGrant {
  lockId: string;
}
export const acquireLockSignal = defineSignal<[LockRequest]>('acquireLock');
export const releaseLockSignal =
  defineSignal<[{ lockId: string; workflowId: string }]>('releaseLock');
export const lockGrantedSignal = defineSignal<[LockGrant]>('lockGranted');
export interface LockState {
  lockId: string;
  holder?: LockRequest;
  queue: LockRequest[];
}
export const lockStateQuery = defineQuery<LockState>('lockState');
