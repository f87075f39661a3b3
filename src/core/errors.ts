/**
 * Failure types changectl raises as ApplicationFailure types. Explicit strings, never derived
 * from class names, so they survive bundling and read well in the Temporal UI.
 */
export const FailureType = {
  /** The change request or an operator's input does not validate. */
  InvalidRequest: 'ERR_INVALID_REQUEST',
  /** The policy file does not validate or cannot be read. */
  InvalidPolicy: 'ERR_INVALID_POLICY',
  /** An approval, rejection or documentation was refused; the message says why. */
  Refused: 'ERR_REFUSED',
  /** The change cannot answer yet (it is still loading its policy); the same message will do shortly. */
  NotReady: 'ERR_NOT_READY',
  /** The Kubernetes API answered 4xx: the request itself is wrong. */
  KubernetesRejected: 'ERR_KUBERNETES_REJECTED',
  /** The Kubernetes API answered 5xx, 409 or 429, or could not be reached: retried. */
  KubernetesUnavailable: 'ERR_KUBERNETES_UNAVAILABLE',
  /** A rollout did not complete: progress deadline exceeded or the request's timeout. */
  RolloutFailed: 'ERR_ROLLOUT_FAILED',
  /** Rollback readiness is missing: no deployment, no revision to return to. */
  RollbackNotReady: 'ERR_ROLLBACK_NOT_READY',
  /** Velero ended a backup Failed or PartiallyFailed. */
  BackupFailed: 'ERR_BACKUP_FAILED',
  /** Velero ended a restore Failed or PartiallyFailed. */
  RestoreFailed: 'ERR_RESTORE_FAILED',
  /** Prometheus refused a query (bad PromQL); its own message is kept. */
  QueryInvalid: 'ERR_QUERY_INVALID',
  /** Prometheus could not be reached or answered 5xx. */
  PrometheusUnavailable: 'ERR_PROMETHEUS_UNAVAILABLE',
  /** Alerts are firing where a change needs none. */
  AlertsFiring: 'ERR_ALERTS_FIRING',
  /** The change no longer fits its window. */
  OutsideWindow: 'ERR_OUTSIDE_WINDOW',
  /** A notification sink refused a message. */
  NotificationFailed: 'ERR_NOTIFICATION_FAILED',
} as const;

export type FailureType = (typeof FailureType)[keyof typeof FailureType];
