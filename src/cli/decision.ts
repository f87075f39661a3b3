/**
 * The payload of every decision the CLI sends (approve, reject, cancel, rollback, extend,
 * reschedule, decide, document): a statement signed with the operator's key, or, without a key,
 * the stated name, which only a change whose policy trusts names (identity.mode: names) accepts.
 */
import type { Command } from 'commander';
import type { SignalDefinition, UpdateDefinition } from '@temporalio/common';
import type { ChangeType } from '../core/change/request';
import type { ChangeState, ChangeStatus } from '../core/lifecycle/status';
import type { SignedStatement, Statement, StatementAction } from '../core/identity/statement';
import type { IdentityMode, Policy } from '../core/policy/schema';
import { loadPolicyFile } from '../load/policy';
import { statusQuery, type Actor, type Message } from '../../workflows/messages';
import type { ChangeRef, CliContext } from './context';
import { CliError, ExitCode, isUnavailable } from './errors';
import {
  newStatement,
  ownerOfKey,
  readPublicKey,
  signStatement,
  type SignerOutput,
} from './signing';
import { executeWhenReady, retryWhile } from './updates';

/** The messages a person sends to a change, by their wire names. */
export type DecisionAction =
  | 'approve'
  | 'reject'
  | 'cancel'
  | 'rollback'
  | 'extend'
  | 'reschedule'
  | 'decide'
  | 'document';

/** A decision's arguments: what the action's statement carries (`actionArgsSchemas`). */
export type DecisionArgs = Statement['args'];

/** The stated-name form, `{actor, ...args}`, for policies with identity.mode: names. */
export type NamedDecision = { actor: string } & DecisionArgs;

/** What a decision message carries. */
export type DecisionPayload = SignedStatement | NamedDecision;

/** What the CLI needs to know of the change it decides on; the status query answers it. */
export interface DecisionTarget {
  id: string;
  type: ChangeType;
  state: ChangeState;
  /** sha256 of the change's canonical request; every statement is bound to it. */
  requestDigest?: string;
  /** How the change's policy identifies people; absent until the change has loaded it. */
  identityMode?: IdentityMode;
}

/**
 * What a decision needs of the change's status. The digest is read as untrusted: a change whose
 * worker predates signed decisions answers without one.
 */
export function decisionTargetOf(status: ChangeStatus): DecisionTarget {
  const digest: unknown = status.requestDigest;
  return {
    id: status.id,
    type: status.type,
    state: status.state,
    ...(typeof digest === 'string' ? { requestDigest: digest } : {}),
    ...(status.identityMode ? { identityMode: status.identityMode } : {}),
  };
}

/** The statement action of a message: an emergency change is approved by its incident commander. */
export function statementActionOf(action: DecisionAction, target: DecisionTarget): StatementAction {
  return action === 'approve' && target.type === 'emergency' ? 'ic-approve' : action;
}

/** Who signs, and how: everything the payload depends on besides the change. */
export interface Signer {
  /** `--key` / CHANGECTL_KEY. */
  keyPath?: string;
  /** `--as`, when given. */
  as?: string;
  /** The stated name when there is no key, or no policy to name the key's owner. */
  user: () => string;
  /** The policy at hand (`--policy` / CHANGECTL_POLICY), to say whose the key is. */
  policy?: Policy;
  stderr: SignerOutput;
  env: NodeJS.ProcessEnv;
}

export interface Decision {
  payload: DecisionPayload;
  /** Who acts: the key's owner, or the stated name. */
  person: string;
  /** The key's fingerprint when the decision is signed. */
  fingerprint?: string;
}

/**
 * Builds the payload of a decision. With a key: a fresh statement for this change, its request
 * digest and the action, signed by `ssh-keygen -Y sign`, as the key's owner when a policy is at
 * hand (an `--as` that is someone else is refused, exit 3). Without a key: the stated name, which
 * a change in signed mode would refuse, so the CLI says at once which key is missing (exit 2).
 */
export async function buildDecision(
  signer: Signer,
  target: DecisionTarget,
  action: DecisionAction,
  args: DecisionArgs,
): Promise<Decision> {
  const mode = target.identityMode ?? signer.policy?.spec.identity.mode;
  if (!signer.keyPath) {
    if (mode === 'signed') {
      throw new CliError(ExitCode.InvalidInput, `no signing key for ${action} of ${target.id}:`, [
        {
          path: '--key',
          message: `${target.id}'s policy takes only signed decisions (identity.mode: signed): pass --key <file> or set CHANGECTL_KEY to your SSH key (ssh-keygen -t ed25519), whose .pub line is in people.<you>.keys`,
        },
      ]);
    }
    return { payload: { ...args, actor: signer.user() }, person: signer.user() };
  }
  if (!target.requestDigest) {
    throw new CliError(
      ExitCode.Failed,
      `change ${target.id}'s status carries no request digest, so a statement cannot be bound to it: its worker predates signed decisions`,
    );
  }
  const key = await readPublicKey(signer.keyPath);
  const person = signer.policy
    ? ownerOfKey(signer.policy.spec.people, key, signer.as, signer.policy.metadata.name).person
    : signer.user();
  const statement = newStatement({
    changeId: target.id,
    requestDigest: target.requestDigest,
    action: statementActionOf(action, target),
    args,
    person,
  });
  const signed = await signStatement(statement, signer.keyPath, signer.stderr, {
    env: signer.env,
  });
  return { payload: signed, person, fingerprint: key.fingerprint };
}

/** The `--policy` option of the decision commands. */
export function withPolicyOption(command: Command): Command {
  return command.option(
    '--policy <file>',
    'policy that says whose your key is (default: CHANGECTL_POLICY)',
  );
}

/** The policy at hand: `--policy`, then CHANGECTL_POLICY; undefined when neither is set. */
export async function policyAtHand(ctx: CliContext, flag: unknown): Promise<Policy | undefined> {
  const path =
    (typeof flag === 'string' && flag) || ctx.io.env.CHANGECTL_POLICY?.trim() || undefined;
  return path ? loadPolicyFile(path) : undefined;
}

export function signerOf(ctx: CliContext, policy: Policy | undefined): Signer {
  return {
    ...(ctx.keyPath ? { keyPath: ctx.keyPath } : {}),
    ...(ctx.options.as ? { as: ctx.options.as } : {}),
    user: () => ctx.user,
    ...(policy ? { policy } : {}),
    stderr: ctx.io.stderr,
    env: ctx.io.env,
  };
}

/** A running change, what its status says, and the decision built for it. */
export interface PreparedDecision {
  change: ChangeRef;
  status: ChangeStatus;
  decision: Decision;
}

/** How long a decision waits for a change just submitted to answer its first status query. */
const FIRST_STATUS_WAIT_MS = 10_000;

/**
 * The change's status; asked again for a few seconds while the change cannot answer yet (a query
 * fails until the workflow's first task has run: an approval typed right after submit).
 */
function statusOf(change: ChangeRef): Promise<ChangeStatus> {
  return retryWhile(
    () => change.handle.query(statusQuery),
    (err) => !isUnavailable(err),
    {
      waitMs: FIRST_STATUS_WAIT_MS,
      maxDelayMs: 1_000,
    },
  );
}

/** Looks the running change up, reads its status and builds the decision's payload. */
export async function prepareDecision(
  ctx: CliContext,
  id: string,
  action: DecisionAction,
  args: DecisionArgs,
  policyFlag: unknown,
  check?: (status: ChangeStatus) => void,
): Promise<PreparedDecision> {
  const policy = await policyAtHand(ctx, policyFlag);
  const change = await ctx.runningChange(id);
  const status = await statusOf(change);
  check?.(status);
  const decision = await buildDecision(
    signerOf(ctx, policy),
    decisionTargetOf(status),
    action,
    args,
  );
  return { change, status, decision };
}

/**
 * Sends a decision as an update (approve, reject, document), again while the change is still
 * loading its policy; a refusal comes back at once with its reason (exit 3).
 */
export function sendDecisionUpdate<Ret, Unsigned extends Actor>(
  prepared: PreparedDecision,
  update: UpdateDefinition<Ret, [Message<Unsigned>]>,
): Promise<Ret> {
  const { change, decision } = prepared;
  return executeWhenReady(change.id, change.handle, update, payloadFor<Unsigned>(decision));
}

/** Sends a decision as a signal (cancel, rollback, extend, reschedule, decide). */
export async function sendDecisionSignal<Unsigned extends Actor>(
  prepared: PreparedDecision,
  signal: SignalDefinition<[Message<Unsigned>]>,
): Promise<void> {
  const { change, decision } = prepared;
  await change.handle.signal(signal, payloadFor<Unsigned>(decision));
}

/**
 * The payload as a message of one action. A signed payload is any message's; the named form was
 * built from that action's own arguments by its command, and the workflow parses both again.
 */
function payloadFor<Unsigned extends Actor>(decision: Decision): Message<Unsigned> {
  const { payload } = decision;
  return isSigned(payload) ? payload : (payload as unknown as Unsigned);
}

function isSigned(payload: DecisionPayload): payload is SignedStatement {
  return typeof payload.signature === 'string' && typeof payload.statement === 'object';
}

/** `by bob` or `by bob (signed with SHA256:...)`: who a decision went out as. */
export function actedAs(decision: Decision): string {
  return decision.fingerprint
    ? `by ${decision.person} (signed with ${decision.fingerprint})`
    : `by ${decision.person} (unsigned: UNVERIFIED)`;
}
