/**
 * Signed statements: every human action on a change, as canonical JSON signed with an OpenSSH
 * key in the `changectl` namespace. The wire form is {statement, signature}.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { z } from 'zod';
import { CHANGE_ID_PATTERN, type ChangeRequest } from '../change/request';
import { durationString, nonEmpty, personHandle, timestampString } from '../change/validation';
import { canonicalJson } from './canonical';
import { toHex, utf8 } from './encoding';

/** The namespace changectl's signatures are made in (`ssh-keygen -Y sign -n changectl`). */
export const SIGNATURE_NAMESPACE = 'changectl';

/** How far a statement's issued-at may be from the time it is checked at, either way. */
export const FRESHNESS_MS = 5 * 60_000;

/** Limits that keep a statement small enough for workflow history and signal payloads. */
export const MAX_STATEMENT_BYTES = 8 * 1024;
export const MAX_SIGNATURE_CHARS = 4 * 1024;

/** Every human action on a change; `ic-approve` is an incident commander's emergency approval. */
export const statementActions = [
  'submit',
  'approve',
  'reject',
  'cancel',
  'rollback',
  'extend',
  'reschedule',
  'decide',
  'document',
  'ic-approve',
] as const;

export type StatementAction = (typeof statementActions)[number];

const optionalText = nonEmpty.optional();

/** What each action's arguments are; the message handlers read them from the statement. */
export const actionArgsSchemas = {
  submit: z.strictObject({}),
  approve: z.strictObject({ comment: optionalText }),
  reject: z.strictObject({ reason: nonEmpty }),
  cancel: z.strictObject({ reason: nonEmpty }),
  rollback: z.strictObject({ reason: nonEmpty, restoreBackup: z.boolean().optional() }),
  extend: z.strictObject({ duration: durationString }),
  reschedule: z.strictObject({ notBefore: timestampString }),
  decide: z.strictObject({
    decision: z.enum(['proceed', 'rollback']),
    reason: optionalText,
  }),
  document: z.strictObject({
    rootCause: nonEmpty,
    changed: nonEmpty,
    pir: z.url({
      protocol: /^https?$/,
      error: (issue) =>
        `expected an http(s) link to the post-incident review, got ${JSON.stringify(issue.input)}`,
    }),
  }),
  'ic-approve': z.strictObject({ comment: optionalText }),
} satisfies Record<StatementAction, z.ZodType>;

export type ActionArgs<A extends StatementAction> = z.output<(typeof actionArgsSchemas)[A]>;

export const requestDigestPattern = /^[0-9a-f]{64}$/;

const requestDigestField = z.string().regex(requestDigestPattern, {
  error: (issue) =>
    `expected a request digest: 64 lowercase hex digits (sha256), got ${JSON.stringify(issue.input)}`,
});

export const statementSchema = z
  .strictObject({
    changeId: z.string().regex(CHANGE_ID_PATTERN, {
      error: (issue) => `expected a change id like 'CHG-1234', got ${JSON.stringify(issue.input)}`,
    }),
    requestDigest: requestDigestField,
    action: z.enum(statementActions),
    args: z.record(z.string(), z.json()),
    person: personHandle.max(64, { error: 'expected at most 64 characters' }),
    issuedAt: timestampString,
    nonce: z.string().regex(/^[A-Za-z0-9_-]{16,64}$/, {
      error: 'expected a nonce of 16 to 64 characters from A-Z a-z 0-9 _ -',
    }),
  })
  .superRefine((statement, ctx) => {
    let size: number;
    try {
      size = statementBytes(statement).length;
    } catch {
      return; // a field that is not JSON has its own issue
    }
    if (size > MAX_STATEMENT_BYTES) {
      ctx.addIssue({
        code: 'custom',
        path: ['args'],
        message: `expected a statement of at most ${MAX_STATEMENT_BYTES} bytes, got ${size}`,
      });
    }
  });

export type Statement = z.output<typeof statementSchema>;

/** A statement and its armored SSH signature: what a signed signal or update carries. */
export const signedStatementSchema = z.strictObject({
  statement: statementSchema,
  signature: z
    .string()
    .max(MAX_SIGNATURE_CHARS, {
      error: `expected an armored SSH signature of at most ${MAX_SIGNATURE_CHARS} characters`,
    })
    .refine((s) => s.includes('-----BEGIN SSH SIGNATURE-----'), {
      error: "expected an armored SSH signature ('-----BEGIN SSH SIGNATURE-----' ...)",
    }),
});

export type SignedStatement = z.output<typeof signedStatementSchema>;

/** The bytes that are signed: the statement's canonical JSON in UTF-8. */
export function statementBytes(statement: Statement): Uint8Array {
  return utf8(canonicalJson(statement));
}

/** The sha256 (hex) of a validated change request's canonical JSON. */
export function requestDigest(request: ChangeRequest): string {
  return toHex(sha256(utf8(canonicalJson(request))));
}
