import { isCancellation } from '@temporalio/workflow';
import type { DeploymentState } from '../../src/core/contracts';
import { blockersAt } from '../../src/core/policy/windows';
import { endChange, rootMessage } from '../failures';
import { neededMs, windowTarget, type LifecycleProfile, type Run } from '../profile';
import { SYSTEM } from '../record';
import { askGate } from './gates';
import { rolloutPlan } from './rollout';

/**
 * Pre-flight, the seed's checklist as code: rollback ready, no firing alerts, every query
 * valid, baseline captured, server-side dry run, still inside the window. A failure of what the
 * profile blocks on ends the change as failed with nothing changed.
 */
export async function preflight(run: Run, profile: LifecycleProfile): Promise<DeploymentState> {
  const { record, operator, activities } = run;
  record.setState('preflight');
  const checks = record.status.preflight.checks;
  const metrics = record.request.spec.verification.metrics;
  const plan = rolloutPlan(record);
  const check = async <T>(
    name: string,
    call: () => Promise<T>,
    detail: (t: T) => string,
    blocking = true,
  ): Promise<T | undefined> => {
    const outcome = await operator.interruptible(async () => {
      try {
        const value = await call();
        record.addCheck({ name, ok: true, detail: detail(value) });
        return value;
      } catch (err) {
        if (isCancellation(err)) throw err;
        const message = rootMessage(err);
        record.addCheck({ name, ok: false, detail: message });
        record.record(SYSTEM, `pre-flight: ${name} failed`, message);
        if (blocking)
          endChange('failed', `pre-flight failed: ${name}: ${message}; nothing was changed`);
        return undefined;
      }
    });
    if (!outcome) operator.endIfCancelled();
    return outcome?.value;
  };

  const readiness = await check(
    'rollback ready',
    () => activities.kubernetesChecks.checkRollbackReadiness(plan),
    (r) =>
      `revision ${r.current.revision} (${Object.values(r.current.images).join(', ')}); rollback: ${r.rollbackCommand}`,
  );
  if (!readiness) endChange('failed', 'pre-flight failed: rollback readiness unknown');
  record.setBefore(readiness.current, readiness.rollbackCommand);

  const selector = record.policy?.spec.verification.alertSelector ?? '';
  const alerts = await check(
    'no firing alerts',
    () => activities.prometheusChecks.firingAlerts({ selector }),
    (a) =>
      a.length === 0 ? 'none firing' : `${a.length} firing: ${a.map((x) => x.name).join(', ')}`,
  );
  if (alerts && alerts.length > 0) {
    const names = alerts.map((a) => a.name).join(', ');
    if (profile.preflight.alerts === 'record') {
      record.record(SYSTEM, 'pre-flight: alerts firing (expected during an incident)', names);
    } else {
      record.failLastCheck();
      endChange('failed', `pre-flight failed: alerts firing: ${names}; nothing was changed`);
    }
  }

  await check(
    'queries valid',
    () => activities.prometheusChecks.validateQueries(metrics),
    () => `${metrics.length} queries accepted by Prometheus`,
  );
  const baseline = await check(
    'baseline captured',
    () => activities.prometheusChecks.captureBaseline(metrics),
    (b) =>
      Object.entries(b)
        .map(([k, v]) => `${k}=${v ?? 'no data'}`)
        .join(', '),
    profile.preflight.baseline === 'block',
  );
  record.setBaseline(baseline ?? {});

  await check(
    'server-side dry run',
    () => activities.kubernetesChecks.dryRunRollout(plan),
    (d) => `accepted: ${d.objects.join(', ')}`,
  );

  if (profile.preflight.window === 'check' && record.policy) {
    const blockers = blockersAt(
      record.policy,
      windowTarget(record, profile),
      Date.now(),
      neededMs(record, profile),
    );
    const ok = blockers.length === 0;
    record.addCheck({
      name: 'inside the window',
      ok,
      detail: ok
        ? `room for ${record.request.spec.rollout.timeout} rollout + ${profile.watch.watchMs / 60_000}m watch`
        : blockers.map((b) => b.reason).join('; '),
    });
    if (!ok)
      endChange(
        'failed',
        `pre-flight failed: outside the window: ${blockers.map((b) => b.reason).join('; ')}; nothing was changed`,
      );
  }
  // Flagger's pre-rollout webhooks: last, so a gate sees a change that is otherwise ready.
  for (const gate of record.request.spec.preflight?.gates ?? []) {
    await check(
      `gate ${gate.name}`,
      async () => {
        const answer = await askGate(run, gate, 'pre-rollout');
        if (!answer.passed) throw new Error(answer.message);
        return answer;
      },
      (answer) => answer.message,
    );
  }
  record.record(
    SYSTEM,
    'pre-flight passed',
    checks.map((c) => `${c.ok ? '✓' : '✗'} ${c.name}`).join(', '),
  );
  return readiness.current;
}
