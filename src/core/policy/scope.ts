import type { ChangeRequest } from '../change/request';
import type { Policy } from './schema';

/** True when a name matches a pattern where `*` stands for any run of characters. */
export function matchesPattern(pattern: string, value: string): boolean {
  if (!pattern.includes('*')) return pattern === value;
  const parts = pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${parts.join('.*')}$`).test(value);
}

/** The value of a map keyed by patterns for a name: the exact key, then a glob, then '*'. */
export function lookupByPattern<T>(map: Record<string, T>, name: string): T | undefined {
  if (Object.hasOwn(map, name)) return map[name];
  const globs = Object.keys(map).filter((k) => k !== '*' && k.includes('*'));
  const glob = globs.find((k) => matchesPattern(k, name));
  if (glob !== undefined) return map[glob];
  return Object.hasOwn(map, '*') ? map['*'] : undefined;
}

/** A reason a change is outside what the policy lets it touch, at the request field it is about. */
export interface ScopeRefusal {
  /** The request field, as a dotted path (`spec.rollout.manifests[0].metadata.namespace`). */
  field: string;
  reason: string;
}

/** The environment that owns a namespace in the policy, if any does. */
export function environmentOfNamespace(
  policy: Pick<Policy, 'spec'>,
  namespace: string,
): string | undefined {
  for (const [environment, entry] of Object.entries(policy.spec.environments)) {
    if (entry.namespaces.includes(namespace)) return environment;
  }
  return undefined;
}

/** The kube context the worker uses for an environment, when the policy names one. */
export function kubeContextOf(
  policy: Pick<Policy, 'spec'>,
  environment: string,
): string | undefined {
  return Object.hasOwn(policy.spec.environments, environment)
    ? policy.spec.environments[environment]!.kubeContext
    : undefined;
}

/**
 * Kinds that live outside every namespace: applying one would reach past the environment.
 * Namespaced kinds changectl does not know are left to the namespace check.
 */
export const clusterScopedKinds = new Set([
  'APIService',
  'CSIDriver',
  'CSINode',
  'CertificateSigningRequest',
  'ClusterRole',
  'ClusterRoleBinding',
  'CustomResourceDefinition',
  'FlowSchema',
  'IngressClass',
  'MutatingWebhookConfiguration',
  'Namespace',
  'Node',
  'PersistentVolume',
  'PriorityClass',
  'PriorityLevelConfiguration',
  'RuntimeClass',
  'StorageClass',
  'ValidatingAdmissionPolicy',
  'ValidatingAdmissionPolicyBinding',
  'ValidatingWebhookConfiguration',
  'VolumeAttachment',
]);

/**
 * Whether an object belongs to one of the declared services: named as the service or with its
 * name as prefix (`api-gateway`, `api-gateway-config`, `api-gateway-blue`). Names, not labels:
 * the name is what an apply writes to, a label is whatever the manifest says.
 */
export function ownedByServices(name: string, services: readonly string[]): boolean {
  return services.some((service) => name === service || name.startsWith(`${service}-`));
}

function ownerText(policy: Pick<Policy, 'spec'>, namespace: string): string {
  const owner = environmentOfNamespace(policy, namespace);
  return owner === undefined ? 'belongs to no environment' : `belongs to environment ${owner}`;
}

/**
 * What in a change reaches outside its environment or its services: the change's namespace, each
 * manifest's namespace and name, the rollout target, and the namespaces its backup (and so a
 * restore) covers. Empty when the change stays in scope. An environment the policy does not
 * declare owns nothing, so every change to it is refused.
 */
export function checkScope(request: ChangeRequest, policy: Pick<Policy, 'spec'>): ScopeRefusal[] {
  const { spec } = request;
  const environment = spec.environment;
  const declared = Object.hasOwn(policy.spec.environments, environment)
    ? policy.spec.environments[environment]
    : undefined;
  if (!declared) {
    const known = Object.keys(policy.spec.environments);
    return [
      {
        field: 'spec.environment',
        reason: `environment ${environment} is not in the policy (spec.environments: ${known.join(', ') || 'none'}), so it owns no namespace, not even ${spec.namespace}`,
      },
    ];
  }
  const refusals: ScopeRefusal[] = [];
  const inEnvironment = (namespace: string, field: string, what: string) => {
    if (declared.namespaces.includes(namespace)) return;
    refusals.push({
      field,
      reason: `${what} namespace ${namespace} ${ownerText(policy, namespace)}, not to ${environment} (namespaces: ${declared.namespaces.join(', ')})`,
    });
  };
  inEnvironment(spec.namespace, 'spec.namespace', "the change's");

  const { rollout } = spec;
  if (!ownedByServices(rollout.target.name, spec.services)) {
    refusals.push({
      field: 'spec.rollout.target.name',
      reason: `Deployment ${rollout.target.name} in ${environment}/${spec.namespace} is not an object of the declared services (${spec.services.join(', ')})`,
    });
  }
  (rollout.manifests ?? []).forEach((manifest, i) => {
    const field = `spec.rollout.manifests[${i}]`;
    const kind = manifest.kind;
    const name = manifest.metadata.name;
    const metadata = manifest.metadata as Record<string, unknown>;
    const namespace = typeof metadata.namespace === 'string' ? metadata.namespace : spec.namespace;
    if (clusterScopedKinds.has(kind)) {
      refusals.push({
        field: `${field}.kind`,
        reason: `${kind} ${name} is cluster-scoped: it is in no namespace of ${environment}`,
      });
      return;
    }
    inEnvironment(namespace, `${field}.metadata.namespace`, `${kind} ${name}'s`);
    if (!ownedByServices(name, spec.services)) {
      refusals.push({
        field: `${field}.metadata.name`,
        reason: `${kind} ${name} in ${environment}/${namespace} is not an object of the declared services (${spec.services.join(', ')}): expected a name that is a service or starts with '<service>-'`,
      });
    }
  });
  (spec.backup?.velero.includeNamespaces ?? []).forEach((namespace, i) => {
    inEnvironment(
      namespace,
      `spec.backup.velero.includeNamespaces[${i}]`,
      'the backup (and restore)',
    );
  });
  return refusals;
}
