import { apiVersionOf, events, namespaces, type ResourceType } from './resources';
import { timestamp, type KubeObject } from './objects';
import type { Store } from './store';

/** The API server lets events expire after an hour; the sandbox keeps the newest ones instead. */
const eventsKept = 1000;

/** Writes core/v1 Events the way controllers' event recorders do. */
export class EventRecorder {
  private readonly written: { namespace: string; name: string }[] = [];
  private sequence = 0;

  constructor(private readonly store: Store) {}

  record(
    involved: KubeObject,
    involvedType: ResourceType,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
    component: string,
  ): void {
    const namespace = involved.metadata.namespace ?? 'default';
    if (!this.store.has(namespaces, undefined, namespace)) return;
    const now = timestamp();
    // `<object>.<unix nanoseconds in hex>`, as event recorders name events, so they list in order.
    const nanos = BigInt(Date.now()) * 1_000_000n + BigInt(this.sequence++ % 1_000_000);
    const name = `${involved.metadata.name}.${nanos.toString(16)}`;
    this.store.create(events, {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name, namespace, uid: '', resourceVersion: '', creationTimestamp: now },
      involvedObject: {
        kind: involved.kind,
        namespace,
        name: involved.metadata.name,
        uid: involved.metadata.uid,
        apiVersion: apiVersionOf(involvedType),
        resourceVersion: involved.metadata.resourceVersion,
      },
      reason,
      message,
      source: { component },
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
      type,
      eventTime: null,
      reportingComponent: component,
      reportingInstance: '',
    });
    this.written.push({ namespace, name });
    while (this.written.length > eventsKept) {
      const oldest = this.written.shift();
      if (oldest) this.store.delete(events, oldest.namespace, oldest.name);
    }
  }
}
