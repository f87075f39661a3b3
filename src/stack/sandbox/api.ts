import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseYaml } from 'yaml';
import { prepareObject } from './defaults';
import { alreadyExists, ApiError, badRequest, conflict, notFound } from './errors';
import { clone, isPlainObject, timestamp, type KubeObject, type LabelSelector } from './objects';
import { jsonPatch, mergePatch, strategicMerge } from './patch';
import {
  apiVersionOf,
  findResource,
  namespaces,
  resourceTypes,
  type ResourceType,
} from './resources';
import { formatLabelSelector, parseFieldSelector, parseLabelSelector } from './selectors';
import type { Store, StoreEvent } from './store';
import { toTable, wantsTable, type IncludeObject } from './tables';

export type Verb = 'get' | 'list' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection';

/** A request for a resource, as its URL names it. */
export interface ResourceRoute {
  resource: ResourceType;
  namespace?: string;
  name?: string;
  subresource?: string;
  verb: Verb;
}

/**
 * Reads `/api/v1/...` and `/apis/<group>/<version>/...` paths. Returns undefined for paths that
 * name no served resource (discovery documents are answered elsewhere).
 */
export function parseResourcePath(method: string, path: string): ResourceRoute | undefined {
  const parts = path
    .split('/')
    .filter((p) => p !== '')
    .map(decodeURIComponent);
  let group: string;
  let version: string;
  let rest: string[];
  if (parts[0] === 'api' && parts.length >= 2) {
    group = '';
    version = parts[1] ?? '';
    rest = parts.slice(2);
  } else if (parts[0] === 'apis' && parts.length >= 3) {
    group = parts[1] ?? '';
    version = parts[2] ?? '';
    rest = parts.slice(3);
  } else {
    return undefined;
  }
  if (rest.length === 0) return undefined;
  let namespace: string | undefined;
  let resource: ResourceType | undefined;
  let name: string | undefined;
  let subresource: string | undefined;
  const namespaced =
    rest[0] === 'namespaces' && rest.length >= 3
      ? findResource(group, version, rest[2] ?? '')
      : undefined;
  if (namespaced?.namespaced) {
    namespace = rest[1];
    resource = namespaced;
    [name, subresource] = rest.slice(3);
    if (rest.length > 5) return undefined;
  } else {
    resource = findResource(group, version, rest[0] ?? '');
    [name, subresource] = rest.slice(1);
    if (rest.length > 3) return undefined;
  }
  if (!resource) return undefined;
  if (resource.namespaced && namespace === undefined && name !== undefined) return undefined;
  const collection = name === undefined;
  let verb: Verb;
  switch (method) {
    case 'GET':
      verb = collection ? 'list' : 'get';
      break;
    case 'POST':
      if (!collection) return undefined;
      verb = 'create';
      break;
    case 'PUT':
      verb = 'update';
      break;
    case 'PATCH':
      verb = 'patch';
      break;
    case 'DELETE':
      verb = collection ? 'deletecollection' : 'delete';
      break;
    default:
      return undefined;
  }
  if (collection && (verb === 'update' || verb === 'patch')) return undefined;
  return { resource, namespace, name, subresource, verb };
}

function describe(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** `?watch=true` turns a get or list into a stream of changes. */
export function isWatch(url: URL): boolean {
  const value = url.searchParams.get('watch');
  return value === 'true' || value === '1';
}

function sendJson(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-cache, private',
  });
  res.end(text);
}

export function sendStatus(res: ServerResponse, error: ApiError): void {
  sendJson(res, error.code, error.toStatus());
}

function parseJsonBody(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch (e) {
    throw badRequest(`the request body could not be decoded: ${(e as Error).message}`);
  }
}

function parseObjectBody(body: Buffer): Record<string, unknown> {
  const value = parseJsonBody(body);
  if (!isPlainObject(value)) throw badRequest('the request body must be a JSON object');
  return value;
}

function dryRunOf(url: URL): boolean {
  const values = url.searchParams.getAll('dryRun');
  for (const v of values) if (v !== 'All') throw badRequest(`Invalid dry run value: ${v}`);
  return values.length > 0;
}

function includeObjectOf(url: URL): IncludeObject {
  const v = url.searchParams.get('includeObject');
  return v === 'None' || v === 'Object' ? v : 'Metadata';
}

function randomSuffix(length: number): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  return Array.from(randomBytes(length), (b) => alphabet[b % alphabet.length]).join('');
}

function toScale(o: KubeObject): Record<string, unknown> {
  const spec = (o.spec ?? {}) as { replicas?: number; selector?: LabelSelector };
  const status = (o.status ?? {}) as { replicas?: number };
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: {
      name: o.metadata.name,
      namespace: o.metadata.namespace,
      uid: o.metadata.uid,
      resourceVersion: o.metadata.resourceVersion,
      creationTimestamp: o.metadata.creationTimestamp,
    },
    spec: { replicas: spec.replicas ?? 0 },
    status: { replicas: status.replicas ?? 0, selector: formatLabelSelector(spec.selector) },
  };
}

function recordApplyManager(o: KubeObject, manager: string, r: ResourceType): void {
  const entries = (o.metadata.managedFields ?? []).filter(
    (e) => !(isPlainObject(e) && e.manager === manager && e.operation === 'Apply'),
  );
  entries.push({
    manager,
    operation: 'Apply',
    apiVersion: apiVersionOf(r),
    time: timestamp(),
    fieldsType: 'FieldsV1',
    fieldsV1: {},
  });
  o.metadata.managedFields = entries;
}

/** An open watch stream, so the server can end them all when it stops. */
interface OpenWatch {
  end(): void;
}

/** Where watches end by default, as the API server picks a value between 30 and 60 minutes. */
const defaultWatchSeconds = 1800;

/**
 * The REST verbs over the store: get, list, watch, create, update (PUT), patch (merge, strategic
 * merge, JSON patch, server-side apply), delete with cascading to owned objects.
 */
export class ResourceApi {
  private readonly watches = new Set<OpenWatch>();

  /** `changed` runs after every accepted write, so controllers react at once, as watches make them. */
  constructor(
    private readonly store: Store,
    private readonly changed: () => void = () => {},
  ) {}

  closeWatches(): void {
    for (const w of [...this.watches]) w.end();
  }

  handle(
    route: ResourceRoute,
    url: URL,
    req: IncomingMessage,
    res: ServerResponse,
    body: Buffer,
  ): number {
    const { resource: r } = route;
    const accept = req.headers.accept;
    if (route.subresource && !(r.subresources as string[]).includes(route.subresource)) {
      throw notFound(r, route.name ?? '');
    }
    if ((route.verb === 'list' || route.verb === 'get') && isWatch(url)) {
      this.watch(route, url, req, res);
      return 200;
    }
    switch (route.verb) {
      case 'list':
        return this.respond(res, 200, this.list(route, url, accept));
      case 'get': {
        const o = this.store.get(r, route.namespace, route.name ?? '');
        if (!o) throw notFound(r, route.name ?? '');
        if (route.subresource === 'scale') return this.respond(res, 200, toScale(o));
        if (wantsTable(accept)) {
          return this.respond(
            res,
            200,
            toTable(r, [o], o.metadata.resourceVersion, includeObjectOf(url)),
          );
        }
        return this.respond(res, 200, o);
      }
      case 'create':
        this.refuseReadOnly(r);
        return this.respondChanged(res, 201, this.create(route, parseObjectBody(body), url));
      case 'update':
        this.refuseReadOnly(r);
        return this.respondChanged(res, 200, this.update(route, parseObjectBody(body), url));
      case 'patch': {
        this.refuseReadOnly(r);
        const [code, result] = this.patch(route, req.headers['content-type'] ?? '', body, url);
        return this.respondChanged(res, code, result);
      }
      case 'delete':
        this.refuseReadOnly(r);
        return this.respondChanged(res, 200, this.delete(route, url, body));
      case 'deletecollection':
        this.refuseReadOnly(r);
        return this.respondChanged(res, 200, this.deleteCollection(route, url));
    }
  }

  private respond(res: ServerResponse, code: number, body: unknown): number {
    sendJson(res, code, body);
    return code;
  }

  private respondChanged(res: ServerResponse, code: number, body: unknown): number {
    this.changed();
    return this.respond(res, code, body);
  }

  private refuseReadOnly(r: ResourceType): void {
    if (r.readOnly) {
      throw new ApiError(
        405,
        'MethodNotAllowed',
        `${r.resource} are managed by the sandbox controllers and cannot be changed through the API`,
      );
    }
  }

  private selected(route: ResourceRoute, url: URL): KubeObject[] {
    const labels = parseLabelSelector(url.searchParams.get('labelSelector'));
    const fields = parseFieldSelector(url.searchParams.get('fieldSelector'));
    return this.store
      .list(route.resource, route.namespace)
      .filter((o) => labels(o.metadata.labels) && fields(o));
  }

  private list(route: ResourceRoute, url: URL, accept: string | undefined): unknown {
    const items = this.selected(route, url);
    const resourceVersion = String(this.store.resourceVersion);
    if (wantsTable(accept))
      return toTable(route.resource, items, resourceVersion, includeObjectOf(url));
    return {
      kind: `${route.resource.kind}List`,
      apiVersion: apiVersionOf(route.resource),
      metadata: { resourceVersion },
      items,
    };
  }

  /** Checks apiVersion/kind/namespace of a body and gives it the URL's namespace. */
  private admit(route: ResourceRoute, input: Record<string, unknown>): KubeObject {
    const r = route.resource;
    const expected = apiVersionOf(r);
    if (input.apiVersion !== undefined && input.apiVersion !== expected) {
      throw badRequest(
        `the API version in the data (${describe(input.apiVersion)}) does not match the expected API version (${expected})`,
      );
    }
    if (input.kind !== undefined && input.kind !== r.kind) {
      throw badRequest(
        `the kind in the data (${describe(input.kind)}) does not match the expected kind (${r.kind})`,
      );
    }
    if (input.metadata !== undefined && !isPlainObject(input.metadata)) {
      throw badRequest('metadata must be an object');
    }
    const metadata = (input.metadata ?? {}) as unknown as KubeObject['metadata'];
    if (r.namespaced) {
      if (metadata.namespace && route.namespace && metadata.namespace !== route.namespace) {
        throw badRequest(
          'the namespace of the provided object does not match the namespace sent on the request',
        );
      }
      metadata.namespace = route.namespace ?? metadata.namespace;
    } else {
      delete metadata.namespace;
    }
    return { ...input, apiVersion: expected, kind: r.kind, metadata };
  }

  private create(
    route: ResourceRoute,
    input: Record<string, unknown>,
    url: URL,
    applyManager?: string,
  ): KubeObject {
    const r = route.resource;
    const o = this.admit(route, input);
    if (!o.metadata.name && o.metadata.generateName) {
      o.metadata.name = `${o.metadata.generateName}${randomSuffix(5)}`;
    }
    o.metadata.name ??= '';
    delete (o.metadata as Partial<KubeObject['metadata']>).uid;
    delete (o.metadata as Partial<KubeObject['metadata']>).resourceVersion;
    delete (o.metadata as Partial<KubeObject['metadata']>).creationTimestamp;
    if (r.subresources.includes('status') && r !== namespaces) delete o.status;
    delete o.metadata.managedFields;
    if (applyManager) recordApplyManager(o, applyManager, r);
    prepareObject(r, o);
    if (r.namespaced && !this.store.has(namespaces, undefined, o.metadata.namespace ?? '')) {
      throw notFound(namespaces, o.metadata.namespace ?? '');
    }
    if (this.store.has(r, o.metadata.namespace, o.metadata.name)) {
      throw alreadyExists(r, o.metadata.name);
    }
    if (dryRunOf(url)) return dryRunIdentity(o);
    return this.store.create(r, o);
  }

  /** Writes `next` over `current`, keeping what clients may not change through this path. */
  private write(route: ResourceRoute, current: KubeObject, next: KubeObject, url: URL): KubeObject {
    const r = route.resource;
    if (
      next.metadata.resourceVersion &&
      next.metadata.resourceVersion !== current.metadata.resourceVersion
    ) {
      throw conflict(r, current.metadata.name);
    }
    let result: KubeObject;
    if (route.subresource === 'status') {
      result = { ...clone(current), status: next.status };
    } else if (route.subresource === 'scale') {
      const replicas = (next.spec as { replicas?: unknown } | undefined)?.replicas;
      if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0) {
        throw new ApiError(
          422,
          'Invalid',
          `Scale.autoscaling "${current.metadata.name}" is invalid: spec.replicas: Invalid value: ${JSON.stringify(replicas)}: must be greater than or equal to 0`,
        );
      }
      result = clone(current);
      (result.spec as { replicas: number }).replicas = replicas;
    } else {
      result = clone(next);
      if (r.subresources.includes('status')) {
        if (current.status === undefined) delete result.status;
        else result.status = clone(current.status);
      }
    }
    result.apiVersion = current.apiVersion;
    result.kind = current.kind;
    result.metadata = {
      ...result.metadata,
      name: current.metadata.name,
      uid: current.metadata.uid,
      creationTimestamp: current.metadata.creationTimestamp,
      resourceVersion: current.metadata.resourceVersion,
    };
    if (r.namespaced) result.metadata.namespace = current.metadata.namespace;
    if (result.metadata.managedFields === undefined && current.metadata.managedFields) {
      result.metadata.managedFields = current.metadata.managedFields;
    }
    prepareObject(r, result, current);
    if (dryRunOf(url)) return result;
    return this.store.update(r, result);
  }

  private update(route: ResourceRoute, input: Record<string, unknown>, url: URL): unknown {
    const r = route.resource;
    const current = this.store.get(r, route.namespace, route.name ?? '');
    if (!current) throw notFound(r, route.name ?? '');
    if (route.subresource === 'scale') {
      const written = this.write(route, current, input as unknown as KubeObject, url);
      return toScale(written);
    }
    const o = this.admit(route, input);
    if (o.metadata.name && o.metadata.name !== route.name) {
      throw badRequest(
        `the name of the object (${o.metadata.name}) does not match the name on the URL (${route.name})`,
      );
    }
    return this.write(route, current, o, url);
  }

  private patch(
    route: ResourceRoute,
    contentType: string,
    body: Buffer,
    url: URL,
  ): [number, unknown] {
    const r = route.resource;
    const type = (contentType.split(';')[0] ?? '').trim();
    const current = this.store.get(r, route.namespace, route.name ?? '');
    if (type === 'application/apply-patch+yaml') {
      const manager = url.searchParams.get('fieldManager');
      if (!manager) throw badRequest('PATCH /apply requires fieldManager to be set');
      let applied: unknown;
      try {
        applied = parseYaml(body.toString('utf8'));
      } catch (e) {
        throw badRequest(`error decoding YAML: ${(e as Error).message}`);
      }
      if (!isPlainObject(applied)) throw badRequest('the applied configuration must be an object');
      if (!isPlainObject(applied.metadata) || applied.metadata.name !== route.name) {
        throw badRequest(
          `the name of the object (${String(isPlainObject(applied.metadata) ? applied.metadata.name : '')}) does not match the name on the URL (${route.name})`,
        );
      }
      if (!applied.apiVersion || !applied.kind) {
        throw badRequest('apiVersion and kind must be set in an applied configuration');
      }
      if (!current) {
        if (route.subresource) throw notFound(r, route.name ?? '');
        return [201, this.create(route, applied, url, manager)];
      }
      const admitted = this.admit(route, applied);
      const merged = (
        r.strategicMerge ? strategicMerge(current, admitted) : mergePatch(current, admitted)
      ) as KubeObject;
      recordApplyManager(merged, manager, r);
      delete (merged.metadata as Partial<KubeObject['metadata']>).resourceVersion;
      return [200, this.write(route, current, merged, url)];
    }
    const accepted = ['application/json-patch+json', 'application/merge-patch+json'];
    if (r.strategicMerge) accepted.push('application/strategic-merge-patch+json');
    if (!accepted.includes(type)) {
      throw new ApiError(
        415,
        'UnsupportedMediaType',
        `the body of the request was in an unknown format - accepted media types include: ${[...accepted, 'application/apply-patch+yaml'].join(', ')}`,
      );
    }
    if (!current) throw notFound(r, route.name ?? '');
    const patchBody = parseJsonBody(body);
    const base: unknown = route.subresource === 'scale' ? toScale(current) : current;
    let patched: unknown;
    switch (type) {
      case 'application/json-patch+json':
        patched = jsonPatch(base, patchBody);
        break;
      case 'application/merge-patch+json':
        patched = mergePatch(base, patchBody);
        break;
      default:
        patched = strategicMerge(base, patchBody);
    }
    if (!isPlainObject(patched) || !isPlainObject(patched.metadata)) {
      throw new ApiError(422, 'Invalid', 'the patched object must keep its metadata');
    }
    const written = this.write(route, current, patched as KubeObject, url);
    return [200, route.subresource === 'scale' ? toScale(written) : written];
  }

  private delete(route: ResourceRoute, url: URL, body: Buffer): unknown {
    const r = route.resource;
    const current = this.store.get(r, route.namespace, route.name ?? '');
    if (!current) throw notFound(r, route.name ?? '');
    let policy = url.searchParams.get('propagationPolicy');
    if (!policy && body.length > 0) {
      const options = parseJsonBody(body);
      if (isPlainObject(options) && typeof options.propagationPolicy === 'string')
        policy = options.propagationPolicy;
    }
    if (!dryRunOf(url)) this.deleteWithDependents(r, current, policy === 'Orphan');
    if (r.group === 'velero.io' || r === namespaces) return current;
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Success',
      details: {
        name: current.metadata.name,
        group: r.group,
        kind: r.resource,
        uid: current.metadata.uid,
      },
    };
  }

  private deleteCollection(route: ResourceRoute, url: URL): unknown {
    const items = this.selected(route, url);
    if (!dryRunOf(url)) for (const o of items) this.deleteWithDependents(route.resource, o, false);
    return {
      kind: `${route.resource.kind}List`,
      apiVersion: apiVersionOf(route.resource),
      metadata: { resourceVersion: String(this.store.resourceVersion) },
      items,
    };
  }

  /** Garbage collection, done at once: owned objects go with their owner, unless orphaned. */
  deleteWithDependents(r: ResourceType, o: KubeObject, orphan: boolean): void {
    this.store.delete(r, o.metadata.namespace, o.metadata.name);
    if (r === namespaces) {
      for (const t of resourceTypes) {
        if (!t.namespaced) continue;
        for (const child of this.store.list(t, o.metadata.name)) {
          this.store.delete(t, child.metadata.namespace, child.metadata.name);
        }
      }
      return;
    }
    for (const t of resourceTypes) {
      if (!t.namespaced) continue;
      for (const child of this.store.list(t, o.metadata.namespace)) {
        const refs = child.metadata.ownerReferences ?? [];
        if (!refs.some((ref) => ref.uid === o.metadata.uid)) continue;
        if (orphan) {
          child.metadata.ownerReferences = refs.filter((ref) => ref.uid !== o.metadata.uid);
          this.store.update(t, child);
        } else {
          this.deleteWithDependents(t, child, false);
        }
      }
    }
  }

  private watch(route: ResourceRoute, url: URL, req: IncomingMessage, res: ServerResponse): void {
    const r = route.resource;
    const labels = parseLabelSelector(url.searchParams.get('labelSelector'));
    const fields = parseFieldSelector(url.searchParams.get('fieldSelector'));
    const selects = (o: KubeObject | undefined): boolean =>
      o !== undefined &&
      (route.namespace === undefined || o.metadata.namespace === route.namespace) &&
      (route.name === undefined || o.metadata.name === route.name) &&
      labels(o.metadata.labels) &&
      fields(o);
    const asTable = wantsTable(req.headers.accept);
    const includeObject = includeObjectOf(url);
    let columnsSent = false;
    const render = (o: KubeObject): unknown => {
      if (!asTable) return o;
      const table = toTable(r, [o], o.metadata.resourceVersion, includeObject);
      if (columnsSent) delete table.columnDefinitions;
      columnsSent = true;
      return table;
    };

    res.writeHead(200, {
      'Content-Type': 'application/json',
      'Cache-Control': 'no-cache, private',
      'Transfer-Encoding': 'chunked',
    });
    // kubectl waits for the response headers before it counts the watch as started.
    res.flushHeaders();
    const send = (type: string, object: unknown) => {
      res.write(`${JSON.stringify({ type, object })}\n`);
    };

    const timeoutParam = Number(url.searchParams.get('timeoutSeconds'));
    const seconds =
      Number.isFinite(timeoutParam) && timeoutParam > 0 ? timeoutParam : defaultWatchSeconds;
    let unsubscribe = () => {};
    const timer = setTimeout(() => open.end(), seconds * 1000);
    const open: OpenWatch = {
      end: () => {
        if (!this.watches.delete(open)) return;
        clearTimeout(timer);
        unsubscribe();
        res.end();
      },
    };
    this.watches.add(open);
    res.on('close', () => open.end());

    const deliver = (event: StoreEvent) => {
      if (event.resource !== r) return;
      const now = selects(event.object);
      const before = event.type === 'MODIFIED' && selects(event.previous);
      if (event.type === 'ADDED' && now) send('ADDED', render(event.object));
      else if (event.type === 'DELETED' && now) send('DELETED', render(event.object));
      else if (event.type === 'MODIFIED' && now)
        send(before ? 'MODIFIED' : 'ADDED', render(event.object));
      else if (event.type === 'MODIFIED' && before) send('DELETED', render(event.object));
    };

    const from = url.searchParams.get('resourceVersion');
    const initial = url.searchParams.get('sendInitialEvents') === 'true';
    if (!from || from === '0' || initial) {
      for (const o of this.store.list(r, route.namespace)) if (selects(o)) send('ADDED', render(o));
      if (initial) {
        send('BOOKMARK', {
          kind: r.kind,
          apiVersion: apiVersionOf(r),
          metadata: {
            resourceVersion: String(this.store.resourceVersion),
            annotations: { 'k8s.io/initial-events-end': 'true' },
          },
        });
      }
    } else {
      const missed = this.store.eventsSince(Number(from));
      if (!missed) {
        send(
          'ERROR',
          new ApiError(
            410,
            'Expired',
            `too old resource version: ${from} (${this.store.resourceVersion})`,
          ).toStatus(),
        );
        open.end();
        return;
      }
      for (const event of missed) deliver(event);
    }
    unsubscribe = this.store.subscribe(deliver);
  }
}

/** Identity for objects a dry run pretends to create. */
function dryRunIdentity(o: KubeObject): KubeObject {
  o.metadata.uid = randomUUID();
  o.metadata.creationTimestamp = timestamp();
  o.metadata.generation = 1;
  return o;
}
