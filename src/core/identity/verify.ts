/** Whether a signed statement is a person's own, current and unused word on this change. */
import { ValidationError, toFieldIssues, validateWith } from '../change/validation';
import { formatDuration } from '../change/duration';
import type { ChangeRequest } from '../change/request';
import { fingerprintOf, parsePublicKeyLine, type SshPublicKey } from './keys';
import { parseArmoredSignature, verifySshSignature } from './sshsig';
import {
  FRESHNESS_MS,
  SIGNATURE_NAMESPACE,
  actionArgsSchemas,
  requestDigest,
  signedStatementSchema,
  statementBytes,
  type SignedStatement,
  type Statement,
  type StatementAction,
} from './statement';

/** Why a statement was refused; the reason beside it says it in words. */
export const RefusalCode = {
  Malformed: 'malformed',
  UnknownKey: 'unknown-key',
  NoKeys: 'no-keys',
  BadSignature: 'bad-signature',
  WrongPerson: 'wrong-person',
  WrongChange: 'wrong-change',
  WrongDigest: 'wrong-digest',
  WrongAction: 'wrong-action',
  Stale: 'stale',
  NonceUsed: 'nonce-used',
  NotRequester: 'not-requester',
} as const;

export type RefusalCode = (typeof RefusalCode)[keyof typeof RefusalCode];

/** The policy's people, as far as identity goes: `Policy['spec']['people']` fits. */
export type PolicyPeople = Readonly<Record<string, { readonly keys?: readonly string[] }>>;

export interface StatementExpectation {
  policyPeople: PolicyPeople;
  changeId: string;
  requestDigest: string;
  action: StatementAction;
  /** The time to check freshness against (workflow time in a workflow), in epoch ms. */
  now: number;
  /** Nonces of statements already accepted on this change. */
  usedNonces: { has(nonce: string): boolean };
}

export type StatementVerdict =
  | { ok: true; person: string; fingerprint: string; statement: Statement }
  | { ok: false; code: RefusalCode; reason: string };

export interface KeyOwner {
  person: string;
  key: SshPublicKey;
}

/** The person a key blob belongs to in the policy, and the key as the policy lists it. */
export function findKeyOwner(people: PolicyPeople, blob: Uint8Array): KeyOwner | undefined {
  const fingerprint = fingerprintOf(blob);
  for (const [person, entry] of Object.entries(people)) {
    for (const line of entry.keys ?? []) {
      const parsed = parsePublicKeyLine(line);
      if (parsed.ok && parsed.key.fingerprint === fingerprint) return { person, key: parsed.key };
    }
  }
  return undefined;
}

function refuse(code: RefusalCode, reason: string): StatementVerdict {
  return { ok: false, code, reason };
}

const shortDigest = (digest: string) => `${digest.slice(0, 12)}…`;

/**
 * Checks a signed statement (any value: a message payload is not trusted to have a shape)
 * against what the change expects. Pure and synchronous, for update validators.
 */
export function verifyStatement(signed: unknown, expected: StatementExpectation): StatementVerdict {
  let parsed: SignedStatement;
  try {
    parsed = validateWith(signedStatementSchema, signed, 'signed statement');
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    const issues = err.issues.map((i) => `${i.path}: ${i.message}`);
    return refuse(RefusalCode.Malformed, `not a signed statement: ${issues.join('; ')}`);
  }
  const { statement, signature: armored } = parsed;
  const args = actionArgsSchemas[statement.action].safeParse(statement.args);
  if (!args.success) {
    const issues = toFieldIssues(args.error, statement.args).map(
      (i) => `statement.args${i.path === '(document)' ? '' : `.${i.path}`}: ${i.message}`,
    );
    return refuse(
      RefusalCode.Malformed,
      `not the arguments of '${statement.action}': ${issues.join('; ')}`,
    );
  }

  const sig = parseArmoredSignature(armored);
  if (!sig.ok) return refuse(RefusalCode.BadSignature, `bad signature: ${sig.reason}`);
  const owner = findKeyOwner(expected.policyPeople, sig.signature.publicKey);
  const fingerprint = fingerprintOf(sig.signature.publicKey);
  if (!owner) {
    const claimed = Object.hasOwn(expected.policyPeople, statement.person)
      ? expected.policyPeople[statement.person]
      : undefined;
    if (claimed && (claimed.keys ?? []).length === 0) {
      return refuse(
        RefusalCode.NoKeys,
        `${statement.person} has no keys in the policy (people.${statement.person}.keys), so cannot act while identity.mode is signed`,
      );
    }
    return refuse(
      RefusalCode.UnknownKey,
      `unknown key ${fingerprint}: no person in the policy has it (people.<name>.keys)`,
    );
  }
  const valid = verifySshSignature(
    sig.signature,
    owner.key,
    statementBytes(statement),
    SIGNATURE_NAMESPACE,
  );
  if (!valid.ok) return refuse(RefusalCode.BadSignature, `bad signature: ${valid.reason}`);
  if (owner.person !== statement.person) {
    return refuse(
      RefusalCode.WrongPerson,
      `the statement says ${statement.person} but is signed with ${owner.person}'s key ${fingerprint}`,
    );
  }
  if (statement.changeId !== expected.changeId) {
    return refuse(
      RefusalCode.WrongChange,
      `the statement is for change ${statement.changeId}, not ${expected.changeId}`,
    );
  }
  if (statement.requestDigest !== expected.requestDigest) {
    return refuse(
      RefusalCode.WrongDigest,
      `the statement is for request ${shortDigest(statement.requestDigest)}, but ${expected.changeId}'s request is ${shortDigest(expected.requestDigest)}: it was not the one reviewed`,
    );
  }
  if (statement.action !== expected.action) {
    return refuse(
      RefusalCode.WrongAction,
      `the statement is for '${statement.action}', not '${expected.action}'`,
    );
  }
  const skew = Date.parse(statement.issuedAt) - expected.now;
  if (Math.abs(skew) > FRESHNESS_MS) {
    const when = new Date(expected.now).toISOString();
    return refuse(
      RefusalCode.Stale,
      `the statement was issued at ${statement.issuedAt}, ${formatDuration(Math.abs(skew))} ${skew < 0 ? 'before' : 'after'} ${when} (at most ${formatDuration(FRESHNESS_MS)} either way): sign it again`,
    );
  }
  if (expected.usedNonces.has(statement.nonce)) {
    return refuse(
      RefusalCode.NonceUsed,
      `nonce ${statement.nonce} was already used on ${expected.changeId}: a statement counts once`,
    );
  }
  return {
    ok: true,
    person: owner.person,
    fingerprint,
    statement: { ...statement, args: args.data as Statement['args'] },
  };
}

/**
 * A submission: a `submit` statement for this very request, signed by the person the request
 * names as its requester (`metadata.requestedBy`), so a request cannot be filed in another's name.
 */
export function verifySubmission(
  signed: unknown,
  request: ChangeRequest,
  expected: Pick<StatementExpectation, 'policyPeople' | 'now' | 'usedNonces'>,
): StatementVerdict {
  const verdict = verifyStatement(signed, {
    ...expected,
    changeId: request.metadata.id,
    requestDigest: requestDigest(request),
    action: 'submit',
  });
  if (verdict.ok && verdict.person !== request.metadata.requestedBy) {
    return refuse(
      RefusalCode.NotRequester,
      `${request.metadata.id} is signed by ${verdict.person}, but metadata.requestedBy is ${request.metadata.requestedBy}: the requester submits their own change`,
    );
  }
  return verdict;
}
