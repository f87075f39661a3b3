import { parseDuration } from '../../src/core/change/duration';
import type { GateSpec } from '../../src/core/change/request';
import type { GatePayload, GateResult } from '../../src/core/contracts';
import type { Run } from '../profile';
import { SYSTEM } from '../record';

/**
 * Asks one gate (Flagger's webhooks): the change's summary to the webhook the worker knows by
 * the gate's name; the answer is kept in the status and the timeline whatever it is.
 */
export async function askGate(
  run: Run,
  gate: GateSpec,
  phase: GatePayload['phase'],
  step?: number,
): Promise<GateResult> {
  const { record, activities } = run;
  const { spec, metadata } = record.request;
  const timeoutMs = parseDuration(gate.timeout) ?? 30_000;
  const images = spec.rollout.image ? [spec.rollout.image] : [];
  const result = await activities.gates.runGate.executeWithOptions(
    {
      startToCloseTimeout: timeoutMs + 30_000,
      retry: { initialInterval: '1s', maximumInterval: '10s', maximumAttempts: 3 },
      summary: `${phase} gate ${gate.name} (${gate.webhook})`,
    },
    [
      {
        webhook: gate.webhook,
        timeoutMs,
        payload: {
          name: gate.name,
          namespace: spec.namespace,
          phase,
          changeId: metadata.id,
          services: spec.services,
          images,
          ...(step !== undefined ? { step } : {}),
        },
      },
    ],
  );
  record.status.gates = [...(record.status.gates ?? []), result];
  record.record(SYSTEM, `gate ${gate.name} ${result.passed ? 'passed' : 'failed'}`, result.message);
  return result;
}
