import { randomUUID } from 'node:crypto';
import { alreadyExists, notFound } from './errors';
import { canonicalJson, clone, specChanged, timestamp, type KubeObject } from './objects';
import type { ResourceType } from './resources';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoreEvent {
  type: WatchEventType;
  resource: ResourceType;
  object: KubeObject;
  /** The object before a MODIFIED, so a filtered watch can tell an object left its selection. */
  previous?: KubeObject;
  resourceVersion: number;
}

/** Watches may resume from any of the last this-many changes; older ones get 410 Gone. */
const historyLimit = 5000;

function keyOf(namespace: string | undefined, name: string): string {
  return `${namespace ?? ''}/${name}`;
}

/**
 * Every object of the sandbox cluster, with one resourceVersion counter for all of them as etcd
 * keeps. Stored objects are never mutated in place (each write replaces them), so events can hand
 * them out as they are; reads hand out copies.
 */
export class Store {
  private revision = 0;
  private readonly tables = new Map<ResourceType, Map<string, KubeObject>>();
  private readonly history: StoreEvent[] = [];
  private readonly listeners = new Set<(event: StoreEvent) => void>();

  get resourceVersion(): number {
    return this.revision;
  }

  private table(r: ResourceType): Map<string, KubeObject> {
    let t = this.tables.get(r);
    if (!t) {
      t = new Map();
      this.tables.set(r, t);
    }
    return t;
  }

  list(r: ResourceType, namespace?: string): KubeObject[] {
    const out: KubeObject[] = [];
    for (const obj of this.table(r).values()) {
      if (namespace === undefined || obj.metadata.namespace === namespace) out.push(clone(obj));
    }
    return out.sort((a, b) =>
      keyOf(a.metadata.namespace, a.metadata.name).localeCompare(
        keyOf(b.metadata.namespace, b.metadata.name),
      ),
    );
  }

  get(r: ResourceType, namespace: string | undefined, name: string): KubeObject | undefined {
    const obj = this.table(r).get(keyOf(namespace, name));
    return obj ? clone(obj) : undefined;
  }

  has(r: ResourceType, namespace: string | undefined, name: string): boolean {
    return this.table(r).has(keyOf(namespace, name));
  }

  /** Stores a new object, filling uid, creationTimestamp, generation and resourceVersion. */
  create(r: ResourceType, input: KubeObject): KubeObject {
    const key = keyOf(input.metadata.namespace, input.metadata.name);
    if (this.table(r).has(key)) throw alreadyExists(r, input.metadata.name);
    const obj = clone(input);
    obj.metadata.uid ||= randomUUID();
    obj.metadata.creationTimestamp ||= timestamp();
    obj.metadata.generation = 1;
    obj.metadata.resourceVersion = String(++this.revision);
    this.table(r).set(key, obj);
    this.emit({ type: 'ADDED', resource: r, object: obj, resourceVersion: this.revision });
    return clone(obj);
  }

  /**
   * Replaces an existing object. Identity (uid, creationTimestamp) stays; generation moves when
   * anything outside metadata and status changed. A write that changes nothing keeps the
   * resourceVersion, as the API server does.
   */
  update(r: ResourceType, input: KubeObject): KubeObject {
    const key = keyOf(input.metadata.namespace, input.metadata.name);
    const previous = this.table(r).get(key);
    if (!previous) throw notFound(r, input.metadata.name);
    const obj = clone(input);
    obj.metadata.uid = previous.metadata.uid;
    obj.metadata.creationTimestamp = previous.metadata.creationTimestamp;
    obj.metadata.generation =
      (previous.metadata.generation ?? 1) + (specChanged(previous, obj) ? 1 : 0);
    obj.metadata.resourceVersion = previous.metadata.resourceVersion;
    if (canonicalJson(obj) === canonicalJson(previous)) return clone(previous);
    obj.metadata.resourceVersion = String(++this.revision);
    this.table(r).set(key, obj);
    this.emit({
      type: 'MODIFIED',
      resource: r,
      object: obj,
      previous,
      resourceVersion: this.revision,
    });
    return clone(obj);
  }

  delete(r: ResourceType, namespace: string | undefined, name: string): KubeObject | undefined {
    const key = keyOf(namespace, name);
    const previous = this.table(r).get(key);
    if (!previous) return undefined;
    this.table(r).delete(key);
    const obj = clone(previous);
    obj.metadata.resourceVersion = String(++this.revision);
    this.emit({ type: 'DELETED', resource: r, object: obj, resourceVersion: this.revision });
    return clone(obj);
  }

  /** Changes after `resourceVersion`, or undefined when they are no longer all remembered. */
  eventsSince(resourceVersion: number): StoreEvent[] | undefined {
    if (resourceVersion >= this.revision) return [];
    const first = this.history[0];
    if (!first || first.resourceVersion > resourceVersion + 1) return undefined;
    return this.history.filter((e) => e.resourceVersion > resourceVersion);
  }

  subscribe(listener: (event: StoreEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(event: StoreEvent): void {
    this.history.push(event);
    if (this.history.length > historyLimit)
      this.history.splice(0, this.history.length - historyLimit);
    for (const listener of this.listeners) listener(event);
  }
}
