/**
 * The evidence a change log carries so that anyone can check it offline: the request as
 * validated, its digest, and every decision's signed statement.
 */
import { z } from 'zod';
import { changeRequestSchema } from '../change/request';
import { ValidationError, timestampString, validateWith } from '../change/validation';
import {
  requestDigest,
  statementActions,
  type SignedStatement,
  type StatementAction,
} from './statement';
import { verifyStatement, type PolicyPeople } from './verify';

/** One human decision as the change log keeps it. */
export interface DecisionEvidence {
  action: StatementAction;
  /** Who the workflow recorded as acting. */
  person: string;
  /** When the workflow accepted it (workflow time): freshness is checked against this. */
  at: string;
  /** The signing key's fingerprint, as the workflow saw it. */
  fingerprint?: string;
  /** The statement and its signature; absent when the policy trusted names (UNVERIFIED). */
  signed?: SignedStatement;
}

/** What `changectl verify` reads from an exported change log (`{changeLog: ...}` or bare). */
export interface ChangeLogEvidence {
  id: string;
  /** sha256 (hex) of the canonical validated request. */
  requestDigest: string;
  /** The change request as the workflow validated it (defaults filled in). */
  request: unknown;
  /** Every accepted decision, the submission first. */
  decisions: DecisionEvidence[];
}

const decisionSchema = z.looseObject({
  action: z.enum(statementActions),
  person: z.string(),
  at: timestampString,
  fingerprint: z.string().optional(),
  signed: z.unknown().optional(),
});

export const changeLogEvidenceSchema = z.looseObject({
  id: z.string(),
  requestDigest: z.string(),
  request: z.unknown().refine((r) => r !== undefined, { error: 'required field is missing' }),
  decisions: z.array(decisionSchema),
});

export interface DecisionCheck {
  /** `decisions[2] approve by bob at 2026-12-01T02:05:00Z` */
  decision: string;
  ok: boolean;
  /** The key's fingerprint when it verified, or why it did not. */
  detail: string;
}

export interface EvidenceReport {
  ok: boolean;
  /** Problems with the log as a whole: its shape, its request, its digest, its submission. */
  problems: string[];
  decisions: DecisionCheck[];
}

/**
 * Re-checks a change log offline against a policy's people: the request still hashes to its
 * digest, each decision is a valid signed statement for this change, request and action,
 * fresh when the workflow accepted it, by the person recorded, with no nonce used twice, and
 * the submission was signed by the requester.
 */
export function verifyChangeLogEvidence(exported: unknown, people: PolicyPeople): EvidenceReport {
  const root =
    typeof exported === 'object' && exported !== null && 'changeLog' in exported
      ? (exported as { changeLog: unknown }).changeLog
      : exported;
  const problems: string[] = [];
  let log: z.output<typeof changeLogEvidenceSchema>;
  try {
    log = validateWith(changeLogEvidenceSchema, root, 'change log');
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    return {
      ok: false,
      problems: err.issues.map((i) => `changeLog.${i.path}: ${i.message}`),
      decisions: [],
    };
  }

  let digest: string | undefined;
  try {
    const request = validateWith(changeRequestSchema, log.request, 'request');
    digest = requestDigest(request);
    if (request.metadata.id !== log.id) {
      problems.push(
        `changeLog.request.metadata.id: ${request.metadata.id}, but the log is ${log.id}`,
      );
    }
    if (digest !== log.requestDigest) {
      problems.push(
        `changeLog.requestDigest: the request hashes to ${digest}, not ${log.requestDigest}: the request or its digest was changed`,
      );
    }
    const submissions = log.decisions.filter((d) => d.action === 'submit');
    if (submissions.length !== 1) {
      problems.push(`changeLog.decisions: expected one submit decision, got ${submissions.length}`);
    } else if (submissions[0]!.person !== request.metadata.requestedBy) {
      problems.push(
        `changeLog.decisions: submitted by ${submissions[0]!.person}, but the request says requestedBy ${request.metadata.requestedBy}`,
      );
    }
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    problems.push(...err.issues.map((i) => `changeLog.request.${i.path}: ${i.message}`));
  }

  const used = new Set<string>();
  const decisions = log.decisions.map((decision, i): DecisionCheck => {
    const name = `decisions[${i}] ${decision.action} by ${decision.person} at ${decision.at}`;
    if (decision.signed === undefined) {
      return { decision: name, ok: false, detail: 'UNVERIFIED: not signed' };
    }
    const verdict = verifyStatement(decision.signed, {
      policyPeople: people,
      changeId: log.id,
      // Statements are checked against the digest of the request as it is now in the log.
      requestDigest: digest ?? log.requestDigest,
      action: decision.action,
      now: Date.parse(decision.at),
      usedNonces: used,
    });
    if (!verdict.ok) return { decision: name, ok: false, detail: verdict.reason };
    used.add(verdict.statement.nonce);
    if (verdict.person !== decision.person) {
      return {
        decision: name,
        ok: false,
        detail: `signed by ${verdict.person}, but recorded as ${decision.person}`,
      };
    }
    if (decision.fingerprint !== undefined && decision.fingerprint !== verdict.fingerprint) {
      return {
        decision: name,
        ok: false,
        detail: `signed with ${verdict.fingerprint}, but recorded as ${decision.fingerprint}`,
      };
    }
    return {
      decision: name,
      ok: true,
      detail: `signed by ${verdict.person} (${verdict.fingerprint})`,
    };
  });
  return { ok: problems.length === 0 && decisions.every((d) => d.ok), problems, decisions };
}
