import type { Verdict } from '../policy/approvals';

/** The retroactive change record of an emergency: all three parts, and the review as a link. */
export function validateDocumentation(doc: {
  rootCause?: string;
  changed?: string;
  pir?: string;
}): Verdict {
  const missing = [
    doc.rootCause?.trim() ? '' : 'root cause (--root-cause)',
    doc.changed?.trim() ? '' : 'what changed (--changed)',
    doc.pir?.trim() ? '' : 'post-incident review link (--pir)',
  ].filter(Boolean);
  if (missing.length > 0)
    return { ok: false, reason: `documentation incomplete: missing ${missing.join(', ')}` };
  if (!/^https?:\/\/[^\s/$.?#][^\s]*$/i.test(doc.pir?.trim() ?? '')) {
    return {
      ok: false,
      reason: `post-incident review must be an http(s) URL, got ${JSON.stringify(doc.pir)}`,
    };
  }
  return { ok: true };
}
