import { z } from 'zod';
import { riskLevels } from '../change/request';
import {
  dnsLabel,
  durationString,
  nonEmpty,
  personHandle,
  timestampString,
  uniqueList,
} from '../change/validation';
import { isValidCron, isValidTimeZone } from './cron';

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

const clock = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, {
  error: (issue) => `expected a time of day 'HH:MM', got ${JSON.stringify(issue.input)}`,
});

const windowSchema = z.strictObject({
  name: nonEmpty,
  kind: z.enum(['allow', 'deny']),
  schedule: cron,
  duration: durationString,
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
  .refine((f) => Date.parse(f.to) > Date.parse(f.from), {
    path: ['to'],
    error: 'expected a time after from',
  });

const personSchema = z.strictObject({
  name: nonEmpty.optional(),
  teams: uniqueList(dnsLabel, 'team').default([]),
  incidentCommander: z.boolean().default(false),
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
      approvals: z.strictObject({
        /** How long a change waits for its approvals before it ends as rejected; 'never' waits on. */
        expiry: z.union([z.literal('never'), durationString]).default('never'),
        /** Reminders to approvers while approvals are missing. */
        reminderEvery: durationString.optional(),
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
                .default([...weekdays.slice(0, 5)]),
              start: clock.default('09:00'),
              end: clock.default('17:00'),
            })
            .default({ days: [...weekdays.slice(0, 5)], start: '09:00', end: '17:00' }),
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
        .default({
          businessHours: { days: [...weekdays.slice(0, 5)], start: '09:00', end: '17:00' },
          rules: [],
          requires: {},
        }),
      verification: z
        .strictObject({
          onInconclusive: z.enum(['rollback', 'hold']).default('rollback'),
          holdTimeout: durationString.default('30m'),
          alertSelector: z.string().default(''),
        })
        .default({ onInconclusive: 'rollback', holdTimeout: '30m', alertSelector: '' }),
      emergency: z
        .strictObject({
          breakGlass: z.boolean().default(false),
          approvalTimeout: durationString.default('30m'),
          backupTimeout: durationString.default('2m'),
          backupRequired: z.boolean().default(false),
          watch: z
            .strictObject({
              watch: durationString.default('10m'),
              interval: durationString.default('10s'),
              failureLimit: z.number().int().min(1).default(2),
              inconclusiveLimit: z.number().int().min(1).default(2),
            })
            .default({ watch: '10m', interval: '10s', failureLimit: 2, inconclusiveLimit: 2 }),
          documentation: z
            .strictObject({
              deadline: durationString.default('24h'),
              reminders: z.array(durationString).default(['12h', '20h']),
              escalateEvery: durationString.default('24h'),
              maxDays: z.number().int().min(1).default(14),
            })
            .default({
              deadline: '24h',
              reminders: ['12h', '20h'],
              escalateEvery: '24h',
              maxDays: 14,
            }),
        })
        .default({
          breakGlass: false,
          approvalTimeout: '30m',
          backupTimeout: '2m',
          backupRequired: false,
          watch: { watch: '10m', interval: '10s', failureLimit: 2, inconclusiveLimit: 2 },
          documentation: {
            deadline: '24h',
            reminders: ['12h', '20h'],
            escalateEvery: '24h',
            maxDays: 14,
          },
        }),
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
export type Weekday = (typeof weekdays)[number];
