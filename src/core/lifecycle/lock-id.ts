/**
 * The workflow id of an environment's lock on a service. `lock-<env>-<service>` alone is not
 * one-to-one: (prod-eu, api) and (prod, eu-api) would share `lock-prod-eu-api`, and the second
 * change would wait for good on a lock that grants the other pair. So each '-' of the
 * environment is doubled: the first single '-' after `lock-` ends the environment (a DNS label
 * never starts or ends with '-'). An environment without '-' keeps the id it always had, so
 * locks held across an upgrade are still the same workflows.
 */
export function lockWorkflowId(environment: string, service: string): string {
  return `lock-${environment.replace(/-/g, '--')}-${service}`;
}

/** The id before the doubling, for histories recorded before it. */
export function legacyLockWorkflowId(environment: string, service: string): string {
  return `lock-${environment}-${service}`;
}
