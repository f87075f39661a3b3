import type { QualifiedResource } from './errors';

/** One REST resource the sandbox serves. */
export interface ResourceType extends QualifiedResource {
  group: string;
  version: string;
  /** Plural, as in URLs: `deployments`. */
  resource: string;
  singular: string;
  kind: string;
  namespaced: boolean;
  shortNames?: string[];
  categories?: string[];
  subresources: ('status' | 'scale')[];
  /** Pods are made by the controller only; clients may read them. */
  readOnly?: boolean;
  /** Built-in types accept strategic merge patches; custom resources do not. */
  strategicMerge: boolean;
}

const allVerbs = [
  'create',
  'delete',
  'deletecollection',
  'get',
  'list',
  'patch',
  'update',
  'watch',
];

export const namespaces: ResourceType = {
  group: '',
  version: 'v1',
  resource: 'namespaces',
  singular: 'namespace',
  kind: 'Namespace',
  namespaced: false,
  shortNames: ['ns'],
  subresources: ['status'],
  strategicMerge: true,
};
export const pods: ResourceType = {
  group: '',
  version: 'v1',
  resource: 'pods',
  singular: 'pod',
  kind: 'Pod',
  namespaced: true,
  shortNames: ['po'],
  categories: ['all'],
  subresources: ['status'],
  readOnly: true,
  strategicMerge: true,
};
export const services: ResourceType = {
  group: '',
  version: 'v1',
  resource: 'services',
  singular: 'service',
  kind: 'Service',
  namespaced: true,
  shortNames: ['svc'],
  categories: ['all'],
  subresources: ['status'],
  strategicMerge: true,
};
export const configMaps: ResourceType = {
  group: '',
  version: 'v1',
  resource: 'configmaps',
  singular: 'configmap',
  kind: 'ConfigMap',
  namespaced: true,
  shortNames: ['cm'],
  subresources: [],
  strategicMerge: true,
};
export const events: ResourceType = {
  group: '',
  version: 'v1',
  resource: 'events',
  singular: 'event',
  kind: 'Event',
  namespaced: true,
  shortNames: ['ev'],
  subresources: [],
  strategicMerge: true,
};
export const deployments: ResourceType = {
  group: 'apps',
  version: 'v1',
  resource: 'deployments',
  singular: 'deployment',
  kind: 'Deployment',
  namespaced: true,
  shortNames: ['deploy'],
  categories: ['all'],
  subresources: ['status', 'scale'],
  strategicMerge: true,
};
export const replicaSets: ResourceType = {
  group: 'apps',
  version: 'v1',
  resource: 'replicasets',
  singular: 'replicaset',
  kind: 'ReplicaSet',
  namespaced: true,
  shortNames: ['rs'],
  categories: ['all'],
  subresources: ['status', 'scale'],
  strategicMerge: true,
};
export const backups: ResourceType = {
  group: 'velero.io',
  version: 'v1',
  resource: 'backups',
  singular: 'backup',
  kind: 'Backup',
  namespaced: true,
  subresources: [],
  strategicMerge: false,
};
export const restores: ResourceType = {
  group: 'velero.io',
  version: 'v1',
  resource: 'restores',
  singular: 'restore',
  kind: 'Restore',
  namespaced: true,
  subresources: [],
  strategicMerge: false,
};

export const resourceTypes: readonly ResourceType[] = [
  namespaces,
  pods,
  services,
  configMaps,
  events,
  deployments,
  replicaSets,
  backups,
  restores,
];

export function apiVersionOf(r: ResourceType): string {
  return r.group ? `${r.group}/${r.version}` : r.version;
}

export function findResource(
  group: string,
  version: string,
  resource: string,
): ResourceType | undefined {
  return resourceTypes.find(
    (r) => r.group === group && r.version === version && r.resource === resource,
  );
}

export const groupVersions: readonly { group: string; version: string }[] = [
  ...new Map(
    resourceTypes.map((r) => [apiVersionOf(r), { group: r.group, version: r.version }]),
  ).values(),
];

export const serverVersion = {
  major: '1',
  minor: '32',
  gitVersion: 'v1.32.0-sandbox',
  gitCommit: '0000000000000000000000000000000000000000',
  gitTreeState: 'clean',
  buildDate: '2025-01-01T00:00:00Z',
  goVersion: 'go1.23.4',
  compiler: 'gc',
  platform: 'linux/amd64',
};

export function apiVersionsDocument(hostPort: string): Record<string, unknown> {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: hostPort }],
  };
}

export function apiGroupListDocument(): Record<string, unknown> {
  return {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    groups: groupVersions
      .filter((gv) => gv.group !== '')
      .map((gv) => {
        const groupVersion = { groupVersion: `${gv.group}/${gv.version}`, version: gv.version };
        return { name: gv.group, versions: [groupVersion], preferredVersion: groupVersion };
      }),
  };
}

export function apiGroupDocument(group: string): Record<string, unknown> | undefined {
  const gv = groupVersions.find((g) => g.group === group && group !== '');
  if (!gv) return undefined;
  const groupVersion = { groupVersion: `${gv.group}/${gv.version}`, version: gv.version };
  return {
    kind: 'APIGroup',
    apiVersion: 'v1',
    name: group,
    versions: [groupVersion],
    preferredVersion: groupVersion,
  };
}

export function apiResourceListDocument(
  group: string,
  version: string,
): Record<string, unknown> | undefined {
  const types = resourceTypes.filter((r) => r.group === group && r.version === version);
  if (types.length === 0) return undefined;
  const resources: Record<string, unknown>[] = [];
  for (const r of types) {
    resources.push({
      name: r.resource,
      singularName: r.singular,
      namespaced: r.namespaced,
      kind: r.kind,
      verbs: r.readOnly ? ['get', 'list', 'watch'] : allVerbs,
      ...(r.shortNames ? { shortNames: r.shortNames } : {}),
      ...(r.categories ? { categories: r.categories } : {}),
    });
    for (const sub of r.subresources) {
      resources.push({
        name: `${r.resource}/${sub}`,
        singularName: '',
        namespaced: r.namespaced,
        ...(sub === 'scale'
          ? { group: 'autoscaling', version: 'v1', kind: 'Scale' }
          : { kind: r.kind }),
        verbs: r.readOnly ? ['get'] : ['get', 'patch', 'update'],
      });
    }
  }
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: group ? `${group}/${version}` : version,
    resources,
  };
}
