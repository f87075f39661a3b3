/**
 * Gates, Flagger-style: the change's summary POSTed as JSON to a webhook the worker's config
 * names; a 2xx answer within the gate's timeout passes, anything else (another status, no
 * answer, a refused connection, a name the worker does not know) fails it. The answer is
 * returned, not thrown: a failed gate is a decision, and retrying it would ask again.
 */
import { Context } from '@temporalio/activity';
import type { GateActivities, GateInput, GateResult } from '../src/core/contracts';

export function createGateActivities(webhooks: Record<string, string>): GateActivities {
  async function runGate(input: GateInput): Promise<GateResult> {
    const { payload, webhook } = input;
    const answer = (passed: boolean, message: string, status?: number): GateResult => ({
      name: payload.name,
      webhook,
      phase: payload.phase,
      passed,
      ...(status !== undefined ? { status } : {}),
      message,
      at: new Date().toISOString(),
    });
    const url = webhooks[webhook];
    if (!url) return answer(false, `no webhook '${webhook}' in the worker's configuration`);
    const timeout = AbortSignal.timeout(input.timeoutMs);
    const signal = AbortSignal.any([timeout, Context.current().cancellationSignal]);
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(payload),
        signal,
      });
      const text = (await response.text()).trim().replace(/\s+/g, ' ').slice(0, 200);
      const said = text ? `: ${text}` : '';
      return response.ok
        ? answer(true, `${webhook} answered ${response.status}${said}`, response.status)
        : answer(false, `${webhook} answered ${response.status}${said}`, response.status);
    } catch (error) {
      if (Context.current().cancellationSignal.aborted) throw error;
      if (timeout.aborted)
        return answer(false, `${webhook} did not answer within ${input.timeoutMs} ms`);
      const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
      return answer(
        false,
        `${webhook} unreachable: ${cause instanceof Error ? cause.message : String(cause)}`,
      );
    }
  }
  return { runGate };
}
