import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { SignedStatement } from '../src/core/identity/statement';
import type { ChangeStatus } from '../src/core/lifecycle/status';

/**
 * Every human message is a signed statement (`{statement, signature}`, see
 * src/core/identity/statement.ts), or, only where the policy trusts names
 * (`identity.mode: names`), the stated actor with the action's arguments. Handlers take neither
 * on trust: they parse what arrives (workflows/decisions.ts).
 */
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

/** A message as it may arrive: signed, or (identity.mode: names) the stated actor's. */
export type Message<Unsigned> = SignedStatement | Unsigned;

/** What an accepted update answers: the state after it and what is still missing. */
export interface MessageAck {
  state: ChangeStatus['state'];
  summary: string;
}

export const statusQuery = defineQuery<ChangeStatus>('status');

export const approveSignal = defineSignal<[Message<ApprovalInput>]>('approve');
export const approveUpdate = defineUpdate<MessageAck, [Message<ApprovalInput>]>('approve');
export const rejectSignal = defineSignal<[Message<RejectionInput>]>('reject');
export const rejectUpdate = defineUpdate<MessageAck, [Message<RejectionInput>]>('reject');

export const cancelSignal = defineSignal<[Message<CancelInput>]>('cancel');
export const rollbackSignal = defineSignal<[Message<RollbackRequest>]>('rollback');
export const extendSignal = defineSignal<[Message<ExtendInput>]>('extend');
export const rescheduleSignal = defineSignal<[Message<RescheduleInput>]>('reschedule');
export const decideSignal = defineSignal<[Message<DecisionInput>]>('decide');

export const documentSignal = defineSignal<[Message<DocumentationInput>]>('document');
export const documentUpdate = defineUpdate<MessageAck, [Message<DocumentationInput>]>('document');

// The per-service lock (see lock.ts).
export interface LockRequest {
  lockId: string;
  changeId: string;
  workflowId: string;
  emergency: boolean;
  /** A random token only the change and its lock know: the grant carries it back. */
  grantToken?: string;
}
export interface LockGrant {
  lockId: string;
  grantToken?: string;
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
