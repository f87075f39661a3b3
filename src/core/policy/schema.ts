import { z } from 'zod';
import { riskLevels } from '../change/request';
import {
  dnsLabel,
  durationString,
  nonEmpty,
  personHandle,
  positiveDurationString,
  timestampString,
  uniqueList,
} from '../change/validation';
import { durationHint, parseDuration } from '../change/duration';
import { isValidCron, isValidTimeZone } from './cron';
import { parsePublicKeyLine } from '../identity/keys';
import { matchesPattern } from './scope';

const timeZone = z.string().refine(isValidTimeZone, {
  error: (issue) =>
    `expected an IANA time zone such as 'UTC' or 'Europe/London', got ${JSON.stringify(issue.input)}`,
});

const cron = z.string().refine(isValidCron, {
  error: (issue) =>
    `expected a 5-field cron schedule (minute hour day-of-month month day-of-week) such as '0 2 * * 2,4', got ${JSON.stringify(issue.input)}`,
});

/** A name or a glob with `*` (`production-*`), as Argo CD windows match applications. */
const scopePattern = z.string().regex(/^[a-z0-9*]([-a-z0-9*]*[a-z0-9*])?$/, {
  error: (issue) =>
    `expected a name or a '*' pattern such as 'production-*', got ${JSON.stringify(issue.input)}`,
});

const CLOCK = /^([01]\d|2[0-3]):[0-5]\d$/;
const clock = z.string().regex(CLOCK, {
  error: (issue) => `expected a time of day 'HH:MM', got ${JSON.stringify(issue.input)}`,
});

const windowSchema = z.strictObject({
  name: nonEmpty,
  kind: z.enum(['allow', 'deny']),
  schedule: cron,
  duration: positiveDurationString,
  timeZone: timeZone.optional(),
  environments: z.array(scopePattern).min(1).optional(),
  services: z.array(scopePattern).min(1).optional(),
});

const freezeSchema = z
  .strictObject({
    name: nonEmpty,
    from: timestampString,
    to: timestampString,
    reason: nonEmpty,
    environments: z.array(scopePattern).min(1).optional(),
  })
  // Refinements run even when a field failed, so a bad from or to is left to its own issue.
  .refine((f) => !(Date.parse(f.to) <= Date.parse(f.from)), {
    path: ['to'],
    error: 'expected a time after from',
  });

/** An OpenSSH public key line, as `ssh-keygen` writes to `.pub` and GitHub serves at `<user>.keys`. */
const publicKeyLine = z.string().superRefine((line, ctx) => {
  const parsed = parsePublicKeyLine(line);
  if (!parsed.ok) ctx.addIssue({ code: 'custom', message: parsed.reason });
});

const personSchema = z.strictObject({
  name: nonEmpty.optional(),
  teams: uniqueList(dnsLabel, 'team').default([]),
  incidentCommander: z.boolean().default(false),
  /** The keys whose signatures are this person's word; none means the person cannot act. */
  keys: z.array(publicKeyLine).default([]),
});

const environmentSchema = z.strictObject({
  /** The namespaces this environment owns; a namespace belongs to one environment at most. */
  namespaces: uniqueList(dnsLabel, 'namespace').min(1, {
    error: 'expected at least one namespace',
  }),
  /** The kube context the worker uses for this environment. */
  kubeContext: nonEmpty.optional(),
});

export const standardChangeKinds = z.strictObject({
  kinds: uniqueList(nonEmpty, 'kind').min(1, { error: 'expected at least one manifest kind' }),
});

const standardChangeSchema = z.strictObject({
  environments: z.array(scopePattern).min(1, { error: 'expected at least one environment' }),
  services: z.array(scopePattern).min(1, { error: 'expected at least one service' }),
  /** What the template may change: the image only, or manifests of the listed kinds. */
  changes: z.union([z.literal('image'), standardChangeKinds], {
    error: "expected 'image' or {kinds: [<manifest kind>, ...]}",
  }),
  maxRisk: z.enum(riskLevels),
});

const riskCondition = z
  .strictObject({
    environments: z.array(scopePattern).min(1).optional(),
    servicesAtLeast: z.number().int().min(2).optional(),
    configOnly: z.literal(true).optional(),
    fridayAfternoon: z.literal(true).optional(),
    outsideBusinessHours: z.literal(true).optional(),
    strategies: z
      .array(z.enum(['rolling', 'blueGreen', 'canary']))
      .min(1)
      .optional(),
  })
  .refine((c) => Object.keys(c).length > 0, { error: 'expected at least one condition' });

const riskRequirement = z.strictObject({
  minApprovers: z.number().int().min(1).optional(),
  teams: uniqueList(dnsLabel, 'team').optional(),
  minWatch: durationString.optional(),
});

const weekdays = [
  'monday',
  'tuesday',
  'wednesday',
  'thursday',
  'friday',
  'saturday',
  'sunday',
] as const;

const workdays = weekdays.slice(0, 5);

// Nested defaults are made afresh for every document: zod copies a default only one level
// deep, so a shared inner array would carry a caller's mutation into the next policy parsed.
const defaultBusinessHours = () => ({ days: [...workdays], start: '09:00', end: '17:00' });
const defaultEmergencyWatch = () => ({
  watch: '10m',
  interval: '10s',
  failureLimit: 2,
  inconclusiveLimit: 2,
});
const defaultDocumentation = () => ({
  deadline: '24h',
  reminders: ['12h', '20h'],
  escalateEvery: '24h',
  maxDays: 14,
});

export const policySchema = z
  .strictObject({
    apiVersion: z.literal('changectl/v1'),
    kind: z.literal('Policy'),
    metadata: z.strictObject({ name: nonEmpty }),
    spec: z.strictObject({
      timeZone: timeZone.default('UTC'),
      windows: z.array(windowSchema).default([]),
      freezes: z.array(freezeSchema).default([]),
      people: z.record(personHandle, personSchema),
      /** signed: every action is a signed statement; names: the stated name is trusted (UNVERIFIED). */
      identity: z
        .strictObject({ mode: z.enum(['signed', 'names']).default('signed') })
        .default({ mode: 'signed' }),
      environments: z.record(dnsLabel, environmentSchema).default({}),
      standardChanges: z.record(dnsLabel, standardChangeSchema).default({}),
      approvals: z.strictObject({
        /** How long a change waits for its approvals before it ends as rejected; 'never' waits on. */
        expiry: z
          .union([z.literal('never'), positiveDurationString], {
            error: `expected 'never' or ${durationHint}`,
          })
          .default('never'),
        /** Reminders to approvers while approvals are missing. */
        reminderEvery: positiveDurationString.optional(),
        /** Minimum distinct approvers per environment; '*' is the fallback. */
        environments: z.record(
          scopePattern,
          z.strictObject({ minApprovers: z.number().int().min(0) }),
        ),
        /** Teams that must be among the approvers of a change to a service (CODEOWNERS style). */
        services: z
          .record(scopePattern, z.strictObject({ teams: uniqueList(dnsLabel, 'team').min(1) }))
          .default({}),
        /** Standard changes in these environments go ahead without approval. */
        standardPreApproved: z.array(scopePattern).default([]),
      }),
      risk: z
        .strictObject({
          businessHours: z
            .strictObject({
              timeZone: timeZone.optional(),
              days: z
                .array(z.enum(weekdays))
                .min(1)
                .default([...workdays]),
              start: clock.default('09:00'),
              end: clock.default('17:00'),
            })
            .refine((h) => !(CLOCK.test(h.start) && CLOCK.test(h.end)) || h.end > h.start, {
              path: ['end'],
              error: 'expected a time of day after start',
            })
            .default(defaultBusinessHours),
          rules: z
            .array(
              z.strictObject({
                name: nonEmpty,
                when: riskCondition,
                atLeast: z.enum(riskLevels),
              }),
            )
            .default([]),
          requires: z
            .strictObject({
              low: riskRequirement.optional(),
              medium: riskRequirement.optional(),
              high: riskRequirement.optional(),
              critical: riskRequirement.optional(),
            })
            .default({}),
        })
        .default(() => ({ businessHours: defaultBusinessHours(), rules: [], requires: {} })),
      verification: z
        .strictObject({
          onInconclusive: z.enum(['rollback', 'hold']).default('rollback'),
          holdTimeout: positiveDurationString.default('30m'),
          alertSelector: z.string().default(''),
        })
        .default({ onInconclusive: 'rollback', holdTimeout: '30m', alertSelector: '' }),
      emergency: z
        .strictObject({
          breakGlass: z.boolean().default(false),
          approvalTimeout: positiveDurationString.default('30m'),
          backupTimeout: positiveDurationString.default('2m'),
          backupRequired: z.boolean().default(false),
          watch: z
            .strictObject({
              /** The shortest watch an emergency gets, whatever its request asks for. */
              watch: positiveDurationString.default('10m'),
              interval: durationString.default('10s'),
              /** Caps on the request's Argo-style limits (total measurements per metric). */
              failureLimit: z.number().int().min(0).default(2),
              inconclusiveLimit: z.number().int().min(0).default(2),
            })
            .superRefine((watch, ctx) => {
              const period = parseDuration(watch.watch);
              const interval = parseDuration(watch.interval);
              if (interval === undefined) return;
              if (interval < 1_000) {
                ctx.addIssue({
                  code: 'custom',
                  path: ['interval'],
                  message: 'expected at least 1s',
                });
              } else if (period !== undefined && period > 0 && interval > period) {
                ctx.addIssue({
                  code: 'custom',
                  path: ['interval'],
                  message: `expected an interval no longer than the watch (${watch.watch})`,
                });
              }
            })
            .default(defaultEmergencyWatch),
          documentation: z
            .strictObject({
              deadline: positiveDurationString.default('24h'),
              reminders: z.array(positiveDurationString).default(['12h', '20h']),
              escalateEvery: positiveDurationString.default('24h'),
              maxDays: z.number().int().min(1).default(14),
            })
            .superRefine((documentation, ctx) => {
              const deadline = parseDuration(documentation.deadline);
              if (deadline === undefined) return;
              documentation.reminders.forEach((reminder, i) => {
                const at = parseDuration(reminder);
                if (at !== undefined && at >= deadline) {
                  ctx.addIssue({
                    code: 'custom',
                    path: ['reminders', i],
                    message: `expected a reminder before the deadline (${documentation.deadline})`,
                  });
                }
              });
            })
            .default(defaultDocumentation),
        })
        .default(() => ({
          breakGlass: false,
          approvalTimeout: '30m',
          backupTimeout: '2m',
          backupRequired: false,
          watch: defaultEmergencyWatch(),
          documentation: defaultDocumentation(),
        })),
    }),
  })
  .superRefine((policy, ctx) => {
    const teams = new Set(Object.values(policy.spec.people).flatMap((p) => p.teams));
    for (const [service, rule] of Object.entries(policy.spec.approvals.services)) {
      rule.teams.forEach((team, i) => {
        if (!teams.has(team)) {
          ctx.addIssue({
            code: 'custom',
            path: ['spec', 'approvals', 'services', service, 'teams', i],
            message: `team '${team}' has no members in spec.people`,
          });
        }
      });
    }
    for (const level of riskLevels) {
      policy.spec.risk.requires[level]?.teams?.forEach((team, i) => {
        if (!teams.has(team)) {
          ctx.addIssue({
            code: 'custom',
            path: ['spec', 'risk', 'requires', level, 'teams', i],
            message: `team '${team}' has no members in spec.people`,
          });
        }
      });
    }
    const keyOwners = new Map<string, string>();
    for (const [person, entry] of Object.entries(policy.spec.people)) {
      entry.keys.forEach((line, i) => {
        const parsed = parsePublicKeyLine(line);
        if (!parsed.ok) return;
        const owner = keyOwners.get(parsed.key.fingerprint);
        if (owner !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path: ['spec', 'people', person, 'keys', i],
            message: `key ${parsed.key.fingerprint} is ${owner === person ? 'listed twice' : `also ${owner}'s`}: a key belongs to one person`,
          });
        } else {
          keyOwners.set(parsed.key.fingerprint, person);
        }
      });
    }
    const namespaceOwners = new Map<string, string>();
    for (const [environment, entry] of Object.entries(policy.spec.environments)) {
      entry.namespaces.forEach((namespace, i) => {
        const owner = namespaceOwners.get(namespace);
        if (owner !== undefined && owner !== environment) {
          ctx.addIssue({
            code: 'custom',
            path: ['spec', 'environments', environment, 'namespaces', i],
            message: `namespace '${namespace}' is in environments ${owner} and ${environment}: a namespace belongs to one environment`,
          });
        } else {
          namespaceOwners.set(namespace, environment);
        }
      });
    }
    const environments = Object.keys(policy.spec.environments);
    for (const [name, template] of Object.entries(policy.spec.standardChanges)) {
      template.environments.forEach((pattern, i) => {
        if (!environments.some((e) => matchesPattern(pattern, e))) {
          ctx.addIssue({
            code: 'custom',
            path: ['spec', 'standardChanges', name, 'environments', i],
            message: `'${pattern}' matches no environment in spec.environments (${environments.join(', ') || 'none'})`,
          });
        }
      });
    }
    const names = new Set<string>();
    policy.spec.windows.forEach((w, i) => {
      if (names.has(w.name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['spec', 'windows', i, 'name'],
          message: `duplicate window name '${w.name}'`,
        });
      }
      names.add(w.name);
    });
  });

export type Policy = z.output<typeof policySchema>;
export type PolicyWindow = Policy['spec']['windows'][number];
export type PolicyFreeze = Policy['spec']['freezes'][number];
export type PolicyPerson = Policy['spec']['people'][string];
export type PolicyEnvironment = Policy['spec']['environments'][string];
export type StandardChange = Policy['spec']['standardChanges'][string];
export type IdentityMode = Policy['spec']['identity']['mode'];

/**
 * A policy's identity mode. Policies recorded in workflow histories from before `identity`
 * existed carry none, so it is read defensively: such a policy is `signed`, the default.
 */
export function identityModeOf(policy: Policy): IdentityMode {
  return (policy.spec as Partial<Policy['spec']>).identity?.mode ?? 'signed';
}
export type Weekday = (typeof weekdays)[number];
