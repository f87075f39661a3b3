import { z } from 'zod';
import { comparisonHint, parseComparison } from './comparison';
import { parseDuration } from './duration';
import {
  dnsLabel,
  durationString,
  nonEmpty,
  personHandle,
  positiveDurationString,
  timestampString,
  uniqueList,
} from './validation';

export const CHANGE_ID_PATTERN = /^[A-Z][A-Z0-9]*-[0-9]+$/;
export const changeTypes = ['standard', 'normal', 'emergency'] as const;
export const riskLevels = ['low', 'medium', 'high', 'critical'] as const;
export const rolloutStrategies = ['rolling', 'blueGreen', 'canary'] as const;

export type ChangeType = (typeof changeTypes)[number];
export type RiskLevel = (typeof riskLevels)[number];
export type RolloutStrategy = (typeof rolloutStrategies)[number];

/**
 * The longest change id: Velero's objects are named `changectl-<id>-restore` within Kubernetes'
 * 63 characters, so a longer id would have to be cut, and two ids cut alike would collide.
 */
export const MAX_CHANGE_ID_LENGTH = 40;

const changeId = z
  .string()
  .regex(CHANGE_ID_PATTERN, {
    error: (issue) =>
      `expected an id like 'CHG-1234' (capital letters or digits, '-', digits), got ${JSON.stringify(issue.input)}`,
  })
  .max(MAX_CHANGE_ID_LENGTH, {
    error: (issue) =>
      `expected at most ${MAX_CHANGE_ID_LENGTH} characters (names of the Velero objects and labels are built from it), got ${typeof issue.input === 'string' ? issue.input.length : '?'}`,
  });

const failWhen = z.string().refine((text) => parseComparison(text) !== undefined, {
  error: (issue) => `expected ${comparisonHint}, got ${JSON.stringify(issue.input)}`,
});

const metric = z.strictObject({
  name: dnsLabel,
  query: nonEmpty,
  failWhen,
});

export const checkKinds = ['podsReady', 'restarts', 'http', 'logs'] as const;

const checkFailWhen = (fallback: string) => failWhen.default(fallback);

const pattern = z
  .string()
  .min(1, { error: 'expected a pattern' })
  .refine(
    (text) => {
      try {
        new RegExp(text);
        return true;
      } catch {
        return false;
      }
    },
    { error: (issue) => `expected a regular expression, got ${JSON.stringify(issue.input)}` },
  );

const httpCheck = z
  .strictObject({
    /** An address the worker reaches directly. */
    url: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }).optional(),
    /** A Service port, reached through the API server's service proxy. */
    service: dnsLabel.optional(),
    port: z.union([z.number().int().min(1).max(65535), dnsLabel]).optional(),
    path: z.string().startsWith('/', { error: "expected a path starting with '/'" }).default('/'),
    expectStatus: z.number().int().min(100).max(599).default(200),
    timeout: positiveDurationString.default('5s'),
  })
  .superRefine((h, ctx) => {
    if ((h.url === undefined) === (h.service === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['url'],
        message: 'expected exactly one of url and service',
      });
    }
    if (h.service !== undefined && h.port === undefined) {
      ctx.addIssue({ code: 'custom', path: ['port'], message: 'expected the Service port' });
    }
    if (h.url !== undefined && h.service === undefined && h.port !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['port'], message: 'port applies to service only' });
    }
  });

/**
 * A post-change check of the seed's validation script, measured every interval beside the
 * metrics and under the same limits; exactly one kind per check.
 */
const check = z
  .strictObject({
    name: dnsLabel,
    /** Ready replicas equal desired replicas, for every deployment the change rolled out. */
    podsReady: z.strictObject({}).optional(),
    /** Container restarts since the rollout, in the rolled-out pods (fails when > 0). */
    restarts: z.strictObject({ failWhen: checkFailWhen('> 0') }).optional(),
    http: httpCheck.optional(),
    /** Lines matching `pattern` in the rolled-out pods' logs since the rollout. */
    logs: z
      .strictObject({
        pattern,
        container: dnsLabel.optional(),
        failWhen: checkFailWhen('> 0'),
      })
      .optional(),
  })
  .superRefine((c, ctx) => {
    const kinds = checkKinds.filter((k) => c[k] !== undefined);
    if (kinds.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        path: [],
        message: `expected exactly one of ${checkKinds.join(', ')}${kinds.length ? `, got ${kinds.join(' and ')}` : ''}`,
      });
    }
  });

const canaryStep = z.union(
  [
    z.strictObject({
      setWeight: z
        .number()
        .int({ error: 'expected a whole percentage' })
        .min(0, { error: 'expected a percentage from 0 to 100' })
        .max(100, { error: 'expected a percentage from 0 to 100' }),
    }),
    z.strictObject({
      /** Argo's `{pause: {duration: 2m}}`, or `{pause: 2m}`; the metrics run for its duration. */
      pause: z.union([durationString, z.strictObject({ duration: durationString })]),
    }),
  ],
  { error: 'expected a step {setWeight: <0-100>} or {pause: <duration>}' },
);

/** A Kubernetes object to apply server-side; checked for the fields apply cannot do without. */
const manifest = z
  .looseObject({
    apiVersion: nonEmpty,
    kind: nonEmpty,
    metadata: z.looseObject({
      name: z
        .string()
        .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, {
          error: (issue) =>
            `expected a Kubernetes object name (a-z, 0-9, '-', '.'), got ${JSON.stringify(issue.input)}`,
        })
        .max(253, { error: 'expected at most 253 characters' }),
    }),
  })
  .transform((m) => m as Record<string, unknown> & typeof m);

/** `[registry[:port]/]path[:tag][@sha256:digest]`, as the container runtime resolves it. */
const IMAGE_REFERENCE =
  /^(?:[A-Za-z0-9.-]+(?::[0-9]+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;

const rollout = z
  .strictObject({
    strategy: z.enum(rolloutStrategies),
    target: z.strictObject({
      kind: z.literal('Deployment'),
      name: dnsLabel,
      container: dnsLabel.optional(),
    }),
    image: z
      .string()
      .regex(IMAGE_REFERENCE, {
        error: (issue) =>
          `expected a container image reference such as 'registry.example.com/app:1.2.3', got ${JSON.stringify(issue.input)}`,
      })
      .optional(),
    manifests: z.array(manifest).min(1, { error: 'expected at least one manifest' }).optional(),
    service: dnsLabel.optional(),
    /** blueGreen: how long the old colour stays at zero replicas before it is deleted (10m). */
    cleanupAfter: durationString.optional(),
    steps: z.array(canaryStep).optional(),
    timeout: positiveDurationString.default('10m'),
  })
  .superRefine((r, ctx) => {
    if ((r.image === undefined) === (r.manifests === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['image'],
        message: 'expected exactly one of image or manifests',
      });
    }
    if (r.strategy === 'canary') {
      if (!r.steps || r.steps.length === 0) {
        ctx.addIssue({
          code: 'custom',
          path: ['steps'],
          message: 'a canary rollout needs steps, such as [{setWeight: 10}, {pause: 2m}, ...]',
        });
      } else if (!r.steps.some((s) => 'setWeight' in s)) {
        ctx.addIssue({
          code: 'custom',
          path: ['steps'],
          message: 'a canary rollout needs at least one setWeight step',
        });
      }
    } else if (r.steps !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['steps'],
        message: `steps apply to canary rollouts only, not to '${r.strategy}'`,
      });
    }
    for (const field of ['service', 'cleanupAfter'] as const) {
      if (r.strategy !== 'blueGreen' && r[field] !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: [field],
          message: `${field} applies to blueGreen rollouts only, not to '${r.strategy}'`,
        });
      }
    }
  });

const limit = z.number().int().min(0, { error: 'expected a whole number ≥ 0' });

const verification = z
  .strictObject({
    watch: positiveDurationString.default('15m'),
    interval: durationString.default('30s'),
    /** Argo Rollouts' names and meaning: per metric, how many failed measurements in all are allowed. */
    failureLimit: limit.default(0),
    /** How many inconclusive (no data) measurements of a metric in all are allowed. */
    inconclusiveLimit: limit.default(0),
    /** How many measurements in a row of a metric may fail to be taken (Prometheus errors). */
    consecutiveErrorLimit: limit.default(4),
    metrics: z.array(metric).min(1, { error: 'expected at least one metric to watch' }),
    checks: z
      .array(check)
      .min(1, { error: 'expected at least one check, or no checks field' })
      .optional(),
  })
  .superRefine((v, ctx) => {
    const watch = parseDuration(v.watch);
    const interval = parseDuration(v.interval);
    if (interval !== undefined && interval < 1_000) {
      ctx.addIssue({ code: 'custom', path: ['interval'], message: 'expected at least 1s' });
    }
    if (watch !== undefined && watch > 0 && interval !== undefined && interval > watch) {
      ctx.addIssue({
        code: 'custom',
        path: ['interval'],
        message: `expected an interval no longer than the watch (${v.watch})`,
      });
    }
    const names = new Set<string>();
    v.metrics.forEach((m, i) => {
      if (names.has(m.name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['metrics', i, 'name'],
          message: `duplicate metric name '${m.name}'`,
        });
      }
      names.add(m.name);
    });
    v.checks?.forEach((c, i) => {
      if (names.has(c.name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['checks', i, 'name'],
          message: `duplicate metric or check name '${c.name}'`,
        });
      }
      names.add(c.name);
    });
  });

/**
 * A Flagger-style gate: the worker POSTs the change's summary to the webhook it knows by this
 * name (URLs live in the worker's config, never in a request); a 2xx answer in time passes.
 */
const gate = z.strictObject({
  name: dnsLabel,
  webhook: dnsLabel,
  timeout: positiveDurationString.default('30s'),
});
const gates = z.strictObject({
  gates: z.array(gate).min(1, { error: 'expected at least one gate' }),
});

const backup = z.strictObject({
  velero: z.strictObject({
    includeNamespaces: uniqueList(dnsLabel, 'namespace').min(1, {
      error: 'expected at least one namespace',
    }),
    snapshotVolumes: z.boolean().default(true),
    ttl: positiveDurationString.default('720h'),
  }),
});

export const changeRequestSchema = z
  .strictObject({
    apiVersion: z.literal('changectl/v1'),
    kind: z.literal('ChangeRequest'),
    metadata: z.strictObject({
      id: changeId,
      title: nonEmpty,
      requestedBy: personHandle,
    }),
    spec: z.strictObject({
      type: z.enum(changeTypes),
      /** The policy's standard-change template a `type: standard` change follows. */
      standard: dnsLabel.optional(),
      environment: dnsLabel,
      namespace: dnsLabel,
      services: uniqueList(dnsLabel, 'service').min(1, { error: 'expected at least one service' }),
      description: nonEmpty,
      reason: nonEmpty.optional(),
      impact: nonEmpty,
      risk: z.enum(riskLevels),
      incident: z
        .string()
        .regex(/^[A-Za-z][A-Za-z0-9]*-[0-9]+$/, {
          error: (issue) =>
            `expected an incident id such as 'INC-42', got ${JSON.stringify(issue.input)}`,
        })
        .optional(),
      breakGlass: z.boolean().optional(),
      window: z.strictObject({ notBefore: timestampString.optional() }).optional(),
      backup: backup.optional(),
      /** Gates after the pre-flight checks, before the backup (Flagger's pre-rollout). */
      preflight: gates.optional(),
      /** Gates before the last canary step (Flagger's confirm-promotion). */
      promotion: gates.optional(),
      rollout,
      verification,
      rollback: z.strictObject({ restoreBackup: z.boolean().default(false) }).default({
        restoreBackup: false,
      }),
    }),
  })
  .superRefine((request, ctx) => {
    const { spec } = request;
    if (spec.type === 'emergency' && spec.incident === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['spec', 'incident'],
        message: "an emergency change must name its incident, such as 'INC-42'",
      });
    }
    if (spec.type !== 'standard' && spec.standard !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['spec', 'standard'],
        message: `a standard-change template applies to standard changes only, not to '${spec.type}'`,
      });
    }
    if (spec.type !== 'emergency' && spec.breakGlass !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['spec', 'breakGlass'],
        message: 'break-glass applies to emergency changes only',
      });
    }
    // A blue/green target names the colours' base; the Service it switches is what must be
    // declared, since approvals follow the declared services.
    const { rollout } = spec;
    const switched = rollout.strategy === 'blueGreen' && rollout.service !== undefined;
    const changed = switched ? rollout.service! : rollout.target.name;
    if (spec.services.length > 0 && !spec.services.includes(changed)) {
      ctx.addIssue({
        code: 'custom',
        path: ['spec', 'rollout', ...(switched ? ['service'] : ['target', 'name'])],
        message: `expected one of spec.services (${spec.services.join(', ')}), got '${changed}'`,
      });
    }
  });

/** A validated change request with defaults filled in. Parsing it again gives the same value. */
export type ChangeRequest = z.output<typeof changeRequestSchema>;
export type ChangeRequestInput = z.input<typeof changeRequestSchema>;
export type MetricSpec = ChangeRequest['spec']['verification']['metrics'][number];
export type RolloutSpec = ChangeRequest['spec']['rollout'];
export type CanaryStep = NonNullable<RolloutSpec['steps']>[number];
export type VerificationSpec = ChangeRequest['spec']['verification'];
export type CheckSpec = NonNullable<VerificationSpec['checks']>[number];
export type GateSpec = z.output<typeof gate>;

/** How long a blue/green change keeps the old colour at zero before deleting it, by default. */
export const DEFAULT_CLEANUP_AFTER = '10m';

/** The workflow id of a change: one workflow per change id, ever. */
export function changeWorkflowId(id: string): string {
  return `change-${id}`;
}

export function isPlanned(type: ChangeType): boolean {
  return type !== 'emergency';
}

/** The Velero backup a change takes: the request's, or its namespace with the defaults. */
export function backupSpecOf(request: ChangeRequest): NonNullable<ChangeRequest['spec']['backup']> {
  return (
    request.spec.backup ?? {
      velero: { includeNamespaces: [request.spec.namespace], snapshotVolumes: true, ttl: '720h' },
    }
  );
}
