/**
 * Who sent a message, proved: every human message reaches its handler through `read`, which
 * parses the payload (nothing malformed gets further) and answers with the person and the
 * arguments, or with why it is refused. Under the policy's `identity.mode: signed` (the default)
 * the person is the one whose key signed a statement for this change, this request and this
 * action; under `mode: names` the stated name is taken, and every such decision is UNVERIFIED.
 */
import { ApplicationFailure, patched, workflowInfo } from '@temporalio/workflow';
import { z } from 'zod';
import { personHandle } from '../src/core/change/validation';
import { FailureType } from '../src/core/errors';
import {
  actionArgsSchemas,
  type ActionArgs,
  type SignedStatement,
  type StatementAction,
} from '../src/core/identity/statement';
import { verifyStatement, verifySubmission } from '../src/core/identity/verify';
import type { Verdict } from '../src/core/policy/approvals';
import { identityModeOf } from '../src/core/policy/schema';
import { notReady, policyLoading, refusal } from './failures';
import { now, type ChangeRecord } from './record';

/** Histories recorded before signed decisions took every message on its stated name. */
export const SIGNED_DECISIONS_PATCH = 'signed-decisions';

/** Whether this run checks who sends what (false only when replaying an older history). */
export function signedDecisionsEnforced(): boolean {
  return patched(SIGNED_DECISIONS_PATCH);
}

/** Longest reason kept for a refusal: a payload's own text never grows the record unbounded. */
const MAX_REASON_CHARS = 400;

export type MessageAction = Exclude<StatementAction, 'submit'>;

export interface Decision<A extends MessageAction> {
  action: A;
  person: string;
  args: ActionArgs<A>;
  fingerprint?: string;
  /** The statement and signature, kept as evidence; absent under identity.mode names. */
  signed?: SignedStatement;
  /** For the nonce: a signed statement counts once. */
  nonce?: string;
}

export type ReadResult<A extends MessageAction> =
  | { ok: true; decision: Decision<A> }
  | {
      ok: false;
      /** Who the message claims to be from, for the refused list ('unknown' when it does not say). */
      by: string;
      reason: string;
      /** Not a refusal of the person: the policy is not loaded yet. */
      notReady?: true;
      /** The payload is not a message of this kind at all. */
      malformed?: true;
    };

const claimSchema = z.union([
  z.object({ statement: z.object({ person: z.string() }) }).transform((m) => m.statement.person),
  z.object({ actor: z.string() }).transform((m) => m.actor),
]);

/** Who a payload says it is from, cut to a handle's length: only for the record of a refusal. */
function claimedBy(payload: unknown): string {
  const claim = claimSchema.safeParse(payload);
  if (!claim.success) return 'unknown';
  const by = claim.data.trim().slice(0, 64);
  return personHandle.safeParse(by).success ? by : 'unknown';
}

function clip(text: string): string {
  return text.length > MAX_REASON_CHARS ? `${text.slice(0, MAX_REASON_CHARS - 1)}…` : text;
}

function issuesText(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.join('.') || '(message)'}: ${i.message}`)
    .join('; ');
}

/**
 * The unsigned message form: the stated actor and the action's arguments, nothing else. The
 * documentation's fields are left to its own check, which names each missing one.
 */
function namesSchema(action: MessageAction): z.ZodType {
  if (action === 'document') {
    return z.strictObject({
      actor: personHandle,
      rootCause: z.string().max(20_000).optional(),
      changed: z.string().max(20_000).optional(),
      pir: z.string().max(2_000).optional(),
    });
  }
  return actionArgsSchemas[action].extend({ actor: personHandle });
}

function looksSigned(payload: unknown): boolean {
  return typeof payload === 'object' && payload !== null && 'statement' in payload;
}

export class Decisions {
  private readonly nonces = new Set<string>();

  constructor(
    private readonly record: ChangeRecord,
    /** False only when replaying a history from before signed decisions. */
    readonly enforced: boolean,
  ) {}

  /**
   * The person behind a message and its arguments, or why it is refused. Pure: nothing is kept,
   * so validators can call it; the handler calls `accept` once it acts on the decision.
   */
  read<A extends MessageAction>(action: A, payload: unknown): ReadResult<A> {
    const by = claimedBy(payload);
    const { policy } = this.record;
    if (this.enforced && !policy) return { by, ...policyLoading };
    const mode = policy ? identityModeOf(policy) : 'names';
    if (this.enforced && looksSigned(payload)) {
      const verdict = verifyStatement(payload, {
        policyPeople: policy!.spec.people,
        changeId: this.record.id,
        requestDigest: this.record.status.requestDigest,
        action,
        now: Date.now(),
        usedNonces: this.nonces,
      });
      if (!verdict.ok) return { ok: false, by, reason: clip(verdict.reason) };
      const signed = payload as SignedStatement;
      return {
        ok: true,
        decision: {
          action,
          person: verdict.person,
          args: verdict.statement.args as ActionArgs<A>,
          fingerprint: verdict.fingerprint,
          signed: { statement: verdict.statement, signature: signed.signature },
          nonce: verdict.statement.nonce,
        },
      };
    }
    if (this.enforced && mode === 'signed') {
      return {
        ok: false,
        by,
        reason: `unsigned: policy ${policy!.metadata.name} takes only signed decisions (identity.mode: signed); act with \`changectl --key <your key> ...\`, or paste the output of \`changectl sign ${action} ${this.record.id}\``,
      };
    }
    const parsed = namesSchema(action).safeParse(payload);
    if (!parsed.success) {
      return {
        ok: false,
        by,
        malformed: true,
        reason: clip(`not a ${action} message: ${issuesText(parsed.error)}`),
      };
    }
    const { actor, ...args } = parsed.data as { actor: string } & Record<string, unknown>;
    return { ok: true, decision: { action, person: actor, args: args as ActionArgs<A> } };
  }

  /**
   * `read`, then whether the person may take this action now (`authorize`, the lifecycle's
   * rule). Histories from before signed decisions took every message, so they skip the rule.
   */
  readAuthorized<A extends MessageAction>(
    action: A,
    payload: unknown,
    authorize: (person: string, args: ActionArgs<A>) => Verdict,
  ): ReadResult<A> {
    const read = this.read(action, payload);
    if (!read.ok || !this.enforced) return read;
    const verdict = authorize(read.decision.person, read.decision.args);
    if (verdict.ok) return read;
    return {
      ok: false,
      by: read.decision.person,
      reason: verdict.reason,
      ...(verdict.notReady ? { notReady: true } : {}),
    };
  }

  /** Whether decisions on this change are taken on the stated name (identity.mode: names). */
  get unverified(): boolean {
    return this.enforced && !!this.record.policy && identityModeOf(this.record.policy) === 'names';
  }

  /** Keeps an accepted decision's proof on the record and uses up its nonce. */
  accept(decision: Decision<MessageAction>): void {
    if (decision.nonce) this.nonces.add(decision.nonce);
    if (!this.enforced) return;
    this.record.addDecision({
      action: decision.action,
      person: decision.person,
      at: now(),
      ...(decision.fingerprint ? { fingerprint: decision.fingerprint } : {}),
      ...(decision.signed ? { signed: decision.signed } : {}),
    });
  }

  /**
   * The submission, checked once the policy is loaded: signed by the requester for this very
   * request (identity.mode: signed), or taken on the request's name (mode: names, UNVERIFIED).
   * The reason when it is refused.
   */
  admitSubmission(submission: SignedStatement | undefined): string | undefined {
    const { policy, request } = this.record;
    if (!this.enforced || !policy) return undefined;
    const submittedAt = workflowInfo().startTime.getTime();
    if (identityModeOf(policy) === 'names' && submission === undefined) {
      this.record.addDecision({
        action: 'submit',
        person: request.metadata.requestedBy,
        at: new Date(submittedAt).toISOString(),
      });
      return undefined;
    }
    if (submission === undefined) {
      return `unsigned: policy ${policy.metadata.name} takes only signed submissions (identity.mode: signed); submit with \`changectl --key <your key> submit ...\``;
    }
    // Fresh when the change was started, so a worker that was down for a while refuses nothing.
    const verdict = verifySubmission(submission, request, {
      policyPeople: policy.spec.people,
      now: submittedAt,
      usedNonces: this.nonces,
    });
    if (!verdict.ok) return clip(verdict.reason);
    this.nonces.add(verdict.statement.nonce);
    this.record.addDecision({
      action: 'submit',
      person: verdict.person,
      at: new Date(submittedAt).toISOString(),
      fingerprint: verdict.fingerprint,
      signed: { statement: verdict.statement, signature: submission.signature },
    });
    return undefined;
  }
}

/** A validator's answer to a message it will not take: malformed, not ready yet, or refused. */
export function throwRefusal(result: { reason: string; notReady?: true; malformed?: true }): never {
  if (result.notReady) throw notReady(result.reason);
  if (result.malformed) {
    throw ApplicationFailure.create({
      type: FailureType.InvalidRequest,
      message: result.reason,
      nonRetryable: true,
    });
  }
  throw refusal(result.reason);
}
