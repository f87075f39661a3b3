import { isPlainObject, type KubeObject, type LabelSelector } from './objects';
import {
  backups,
  configMaps,
  deployments,
  events,
  namespaces,
  pods,
  replicaSets,
  restores,
  services,
  type ResourceType,
} from './resources';
import { formatLabelSelector } from './selectors';

/**
 * Server-side printing: kubectl asks for `as=Table` and prints the columns the server chose, so
 * the columns here are those the API server defines for each type.
 */
interface Column {
  name: string;
  type: 'string' | 'integer' | 'date';
  format?: 'name';
  priority?: number;
  description: string;
  cell: (o: KubeObject, now: number) => string | number;
}

/** How long ago, in kubectl's style: `45s`, `3m12s`, `2d4h`. */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  const days = Math.floor(hours / 24);
  if (hours < 24 * 8) return hours % 24 === 0 ? `${days}d` : `${days}d${hours % 24}h`;
  if (hours < 24 * 365 * 2) return `${days}d`;
  const years = Math.floor(days / 365);
  if (hours < 24 * 365 * 8) return days % 365 === 0 ? `${years}y` : `${years}y${days % 365}d`;
  return `${years}y`;
}

function since(time: unknown, now: number): string {
  if (typeof time !== 'string') return '<unknown>';
  return humanDuration(now - Date.parse(time));
}

function field(o: unknown, ...path: string[]): unknown {
  let current = o;
  for (const part of path) {
    if (!isPlainObject(current)) return undefined;
    current = current[part];
  }
  return current;
}

function num(o: unknown, ...path: string[]): number {
  const v = field(o, ...path);
  return typeof v === 'number' ? v : 0;
}

function str(o: unknown, ...path: string[]): string {
  const v = field(o, ...path);
  return typeof v === 'string' ? v : '';
}

function list(o: unknown, ...path: string[]): unknown[] {
  const v = field(o, ...path);
  return Array.isArray(v) ? v : [];
}

const nameColumn: Column = {
  name: 'Name',
  type: 'string',
  format: 'name',
  description: 'Name must be unique within a namespace.',
  cell: (o) => o.metadata.name,
};
const ageColumn: Column = {
  name: 'Age',
  type: 'date',
  description:
    'CreationTimestamp is a timestamp representing the server time when this object was created.',
  cell: (o, now) => since(o.metadata.creationTimestamp, now),
};

function containerColumns(templatePath: string[]): Column[] {
  const containers = (o: KubeObject) => list(o, ...templatePath, 'spec', 'containers');
  return [
    {
      name: 'Containers',
      type: 'string',
      priority: 1,
      description: 'Names of each container in the template.',
      cell: (o) =>
        containers(o)
          .map((c) => str(c, 'name'))
          .join(','),
    },
    {
      name: 'Images',
      type: 'string',
      priority: 1,
      description: 'Images referenced by each container in the template.',
      cell: (o) =>
        containers(o)
          .map((c) => str(c, 'image'))
          .join(','),
    },
    {
      name: 'Selector',
      type: 'string',
      priority: 1,
      description: 'Label selector for pods.',
      cell: (o) => formatLabelSelector(field(o, 'spec', 'selector') as LabelSelector),
    },
  ];
}

function podStatus(o: KubeObject): string {
  for (const s of list(o, 'status', 'containerStatuses')) {
    const reason = str(s, 'state', 'waiting', 'reason');
    if (reason) return reason;
  }
  return str(o, 'status', 'phase') || 'Pending';
}

function eventLastSeen(o: KubeObject, now: number): string {
  const last = str(o, 'lastTimestamp') || str(o, 'eventTime') || str(o, 'firstTimestamp');
  const first = str(o, 'firstTimestamp');
  const count = num(o, 'count');
  if (count > 1 && first) return `${since(last, now)} (x${count} over ${since(first, now)})`;
  return since(last, now);
}

const columns = new Map<ResourceType, Column[]>([
  [
    namespaces,
    [
      nameColumn,
      {
        name: 'Status',
        type: 'string',
        description: 'The status of the namespace',
        cell: (o) => str(o, 'status', 'phase'),
      },
      ageColumn,
    ],
  ],
  [
    pods,
    [
      nameColumn,
      {
        name: 'Ready',
        type: 'string',
        description: 'The aggregate readiness state of this pod for accepting traffic.',
        cell: (o) => {
          const statuses = list(o, 'status', 'containerStatuses');
          const ready = statuses.filter((s) => field(s, 'ready') === true).length;
          return `${ready}/${list(o, 'spec', 'containers').length}`;
        },
      },
      {
        name: 'Status',
        type: 'string',
        description: 'The aggregate status of the containers in this pod.',
        cell: podStatus,
      },
      {
        name: 'Restarts',
        type: 'string',
        description: 'The number of times the containers in this pod have been restarted.',
        cell: (o) =>
          String(
            list(o, 'status', 'containerStatuses').reduce<number>(
              (n, s) => n + num(s, 'restartCount'),
              0,
            ),
          ),
      },
      ageColumn,
      {
        name: 'IP',
        type: 'string',
        priority: 1,
        description: 'The IP address assigned to the pod',
        cell: (o) => str(o, 'status', 'podIP') || '<none>',
      },
      {
        name: 'Node',
        type: 'string',
        priority: 1,
        description: 'The name of the node',
        cell: (o) => str(o, 'spec', 'nodeName') || '<none>',
      },
      {
        name: 'Nominated Node',
        type: 'string',
        priority: 1,
        description: 'The nominated node',
        cell: () => '<none>',
      },
      {
        name: 'Readiness Gates',
        type: 'string',
        priority: 1,
        description: 'The readiness gates',
        cell: () => '<none>',
      },
    ],
  ],
  [
    services,
    [
      nameColumn,
      {
        name: 'Type',
        type: 'string',
        description: 'The type of the service.',
        cell: (o) => str(o, 'spec', 'type'),
      },
      {
        name: 'Cluster-IP',
        type: 'string',
        description: 'The cluster IP of the service.',
        cell: (o) => str(o, 'spec', 'clusterIP') || '<none>',
      },
      {
        name: 'External-IP',
        type: 'string',
        description: 'The external IPs of the service.',
        cell: (o) => str(o, 'spec', 'externalName') || '<none>',
      },
      {
        name: 'Port(s)',
        type: 'string',
        description: 'The ports of the service.',
        cell: (o) =>
          list(o, 'spec', 'ports')
            .map((p) => `${num(p, 'port')}/${str(p, 'protocol') || 'TCP'}`)
            .join(',') || '<none>',
      },
      ageColumn,
      {
        name: 'Selector',
        type: 'string',
        priority: 1,
        description: 'The label selector of the service.',
        cell: (o) =>
          Object.entries((field(o, 'spec', 'selector') as Record<string, string>) ?? {})
            .map(([k, v]) => `${k}=${v}`)
            .join(',') || '<none>',
      },
    ],
  ],
  [
    configMaps,
    [
      nameColumn,
      {
        name: 'Data',
        type: 'integer',
        description: 'The number of entries in the data.',
        cell: (o) =>
          Object.keys(field(o, 'data') ?? {}).length +
          Object.keys(field(o, 'binaryData') ?? {}).length,
      },
      ageColumn,
    ],
  ],
  [
    events,
    [
      {
        name: 'Last Seen',
        type: 'string',
        description: 'The time the event was last seen',
        cell: eventLastSeen,
      },
      {
        name: 'Type',
        type: 'string',
        description: 'The type of the event',
        cell: (o) => str(o, 'type'),
      },
      {
        name: 'Reason',
        type: 'string',
        description: 'The reason of the event',
        cell: (o) => str(o, 'reason'),
      },
      {
        name: 'Object',
        type: 'string',
        description: 'The object the event is about',
        cell: (o) =>
          `${str(o, 'involvedObject', 'kind').toLowerCase()}/${str(o, 'involvedObject', 'name')}`,
      },
      {
        name: 'Subobject',
        type: 'string',
        priority: 1,
        description: 'The subobject',
        cell: (o) => str(o, 'involvedObject', 'fieldPath'),
      },
      {
        name: 'Source',
        type: 'string',
        priority: 1,
        description: 'The source component',
        cell: (o) => str(o, 'source', 'component'),
      },
      {
        name: 'Message',
        type: 'string',
        description: 'A human-readable description of the status',
        cell: (o) => str(o, 'message'),
      },
      {
        name: 'First Seen',
        type: 'string',
        priority: 1,
        description: 'The first time the event was seen',
        cell: (o, now) => since(field(o, 'firstTimestamp'), now),
      },
      {
        name: 'Count',
        type: 'string',
        priority: 1,
        description: 'The number of times the event has occurred',
        cell: (o) => String(num(o, 'count')),
      },
      {
        name: 'Name',
        type: 'string',
        priority: 1,
        description: 'The name of the event',
        cell: (o) => o.metadata.name,
      },
    ],
  ],
  [
    deployments,
    [
      nameColumn,
      {
        name: 'Ready',
        type: 'string',
        description: 'Number of the pod with ready state',
        cell: (o) => `${num(o, 'status', 'readyReplicas')}/${num(o, 'spec', 'replicas')}`,
      },
      {
        name: 'Up-to-date',
        type: 'integer',
        description:
          'Total number of non-terminated pods targeted by this deployment that have the desired template spec.',
        cell: (o) => num(o, 'status', 'updatedReplicas'),
      },
      {
        name: 'Available',
        type: 'integer',
        description:
          'Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.',
        cell: (o) => num(o, 'status', 'availableReplicas'),
      },
      ageColumn,
      ...containerColumns(['spec', 'template']),
    ],
  ],
  [
    replicaSets,
    [
      nameColumn,
      {
        name: 'Desired',
        type: 'integer',
        description: 'Number of desired pods.',
        cell: (o) => num(o, 'spec', 'replicas'),
      },
      {
        name: 'Current',
        type: 'integer',
        description: 'Most recently observed number of replicas.',
        cell: (o) => num(o, 'status', 'replicas'),
      },
      {
        name: 'Ready',
        type: 'integer',
        description: 'The number of ready replicas for this replica set.',
        cell: (o) => num(o, 'status', 'readyReplicas'),
      },
      ageColumn,
      ...containerColumns(['spec', 'template']),
    ],
  ],
  [backups, [nameColumn, ageColumn]],
  [restores, [nameColumn, ageColumn]],
]);

export type IncludeObject = 'None' | 'Metadata' | 'Object';

/** Whether an Accept header asks for the meta.k8s.io Table form. */
export function wantsTable(accept: string | undefined): boolean {
  return (accept ?? '').split(',').some((part) => /;\s*as=Table/.test(part));
}

export function toTable(
  r: ResourceType,
  objects: KubeObject[],
  resourceVersion: string,
  includeObject: IncludeObject,
  now: number = Date.now(),
): Record<string, unknown> {
  const cols = columns.get(r) ?? [nameColumn, ageColumn];
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion },
    columnDefinitions: cols.map((c) => ({
      name: c.name,
      type: c.type,
      format: c.format ?? '',
      description: c.description,
      priority: c.priority ?? 0,
    })),
    rows: objects.map((o) => ({
      cells: cols.map((c) => c.cell(o, now)),
      ...(includeObject === 'None'
        ? {}
        : {
            object:
              includeObject === 'Object'
                ? o
                : {
                    kind: 'PartialObjectMetadata',
                    apiVersion: 'meta.k8s.io/v1',
                    metadata: o.metadata,
                  },
          }),
    })),
  };
}
