import { invalid, type FieldError } from './errors';
import { canonicalJson, isPlainObject, type KubeObject, type LabelSelector } from './objects';
import {
  configMaps,
  deployments,
  namespaces,
  replicaSets,
  services,
  type ResourceType,
} from './resources';
import { formatLabelSelector, labelSelectorMatcher } from './selectors';

const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const dnsSubdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const labelValue = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

type Obj = Record<string, unknown>;

function obj(value: unknown): Obj {
  return isPlainObject(value) ? value : {};
}

/** Go's `%#v` of a map[string]string, which validation messages quote. */
function goMap(labels: Record<string, string> | undefined): string {
  const entries = Object.entries(labels ?? {}).map(([k, v]) => `"${k}":"${v}"`);
  return `map[string]string{${entries.join(', ')}}`;
}

function validateStringMap(value: unknown, field: string, errors: FieldError[]): void {
  if (value === undefined) return;
  if (!isPlainObject(value)) {
    errors.push({ field, detail: `Invalid value: ${JSON.stringify(value)}: must be a map` });
    return;
  }
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') {
      errors.push({
        field: `${field}.${k}`,
        detail: `Invalid value: ${JSON.stringify(v)}: must be a string`,
      });
    }
  }
}

function validateMetadata(r: ResourceType, o: KubeObject, errors: FieldError[]): void {
  const name = o.metadata.name;
  const pattern = r === namespaces || r === services ? dnsLabel : dnsSubdomain;
  const limit = pattern === dnsLabel ? 63 : 253;
  if (!name) {
    errors.push({
      field: 'metadata.name',
      detail: 'Required value: name or generateName is required',
    });
  } else if (!pattern.test(name) || name.length > limit) {
    errors.push({
      field: 'metadata.name',
      detail: `Invalid value: "${name}": a lowercase RFC 1123 ${pattern === dnsLabel ? 'label' : 'subdomain'} must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character`,
    });
  }
  validateStringMap(o.metadata.labels, 'metadata.labels', errors);
  validateStringMap(o.metadata.annotations, 'metadata.annotations', errors);
  for (const [k, v] of Object.entries(o.metadata.labels ?? {})) {
    if (typeof v === 'string' && (!labelValue.test(v) || v.length > 63)) {
      errors.push({
        field: 'metadata.labels',
        detail: `Invalid value: "${v}": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (key ${k})`,
      });
    }
  }
}

function imagePullPolicy(image: string): string {
  const lastPart = image.slice(image.lastIndexOf('/') + 1);
  if (lastPart.includes('@')) return 'IfNotPresent';
  const tag = lastPart.includes(':') ? lastPart.slice(lastPart.indexOf(':') + 1) : 'latest';
  return tag === 'latest' ? 'Always' : 'IfNotPresent';
}

/** Fills the defaults the API server gives a pod template, and checks its containers. */
function preparePodTemplate(template: Obj, field: string, errors: FieldError[]): void {
  template.metadata = obj(template.metadata);
  const spec = obj(template.spec);
  template.spec = spec;
  const containers = spec.containers;
  if (!Array.isArray(containers) || containers.length === 0) {
    errors.push({ field: `${field}.spec.containers`, detail: 'Required value' });
  } else {
    const names = new Set<string>();
    containers.forEach((c, i) => {
      const at = `${field}.spec.containers[${i}]`;
      if (!isPlainObject(c)) {
        errors.push({ field: at, detail: 'Invalid value: must be an object' });
        return;
      }
      if (typeof c.name !== 'string' || !c.name) {
        errors.push({ field: `${at}.name`, detail: 'Required value' });
      } else if (!dnsLabel.test(c.name)) {
        errors.push({
          field: `${at}.name`,
          detail: `Invalid value: "${c.name}": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'`,
        });
      } else if (names.has(c.name)) {
        errors.push({ field: `${at}.name`, detail: `Duplicate value: "${c.name}"` });
      } else {
        names.add(c.name);
      }
      if (typeof c.image !== 'string' || !c.image.trim()) {
        errors.push({ field: `${at}.image`, detail: 'Required value' });
      } else {
        c.imagePullPolicy ??= imagePullPolicy(c.image);
      }
      c.terminationMessagePath ??= '/dev/termination-log';
      c.terminationMessagePolicy ??= 'File';
      c.resources ??= {};
      if (Array.isArray(c.ports)) {
        for (const p of c.ports) if (isPlainObject(p)) p.protocol ??= 'TCP';
      }
    });
  }
  spec.restartPolicy ??= 'Always';
  spec.terminationGracePeriodSeconds ??= 30;
  spec.dnsPolicy ??= 'ClusterFirst';
  spec.securityContext ??= {};
  spec.schedulerName ??= 'default-scheduler';
}

function validateSelector(selector: unknown, templateLabels: unknown, errors: FieldError[]): void {
  if (!isPlainObject(selector)) {
    errors.push({ field: 'spec.selector', detail: 'Required value' });
    return;
  }
  const s = selector as LabelSelector;
  if (!formatLabelSelector(s)) {
    errors.push({
      field: 'spec.selector',
      detail:
        'Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment',
    });
    return;
  }
  const labels = isPlainObject(templateLabels) ? (templateLabels as Record<string, string>) : {};
  if (!labelSelectorMatcher(s)(labels)) {
    errors.push({
      field: 'spec.template.metadata.labels',
      detail: `Invalid value: ${goMap(labels)}: \`selector\` does not match template \`labels\``,
    });
  }
}

function validateIntOrPercent(value: unknown, field: string, errors: FieldError[]): void {
  if (value === undefined) return;
  const ok =
    (typeof value === 'number' && Number.isInteger(value) && value >= 0) ||
    (typeof value === 'string' && /^\d+%$/.test(value));
  if (!ok) {
    errors.push({
      field,
      detail: `Invalid value: ${JSON.stringify(value)}: must be a non-negative integer or percentage`,
    });
  }
}

function isZero(value: unknown): boolean {
  return value === 0 || value === '0%';
}

function prepareWorkload(
  o: KubeObject,
  previous: KubeObject | undefined,
  errors: FieldError[],
): void {
  const spec = obj(o.spec);
  o.spec = spec;
  spec.replicas ??= 1;
  if (typeof spec.replicas !== 'number' || !Number.isInteger(spec.replicas) || spec.replicas < 0) {
    errors.push({
      field: 'spec.replicas',
      detail: `Invalid value: ${JSON.stringify(spec.replicas)}: must be greater than or equal to 0`,
    });
  }
  const template = obj(spec.template);
  spec.template = template;
  validateSelector(spec.selector, obj(template.metadata).labels, errors);
  preparePodTemplate(template, 'spec.template', errors);
  if (previous && canonicalJson(obj(previous.spec).selector) !== canonicalJson(spec.selector)) {
    errors.push({
      field: 'spec.selector',
      detail: `Invalid value: ${formatLabelSelector(spec.selector as LabelSelector)}: field is immutable`,
    });
  }
}

function prepareDeployment(
  o: KubeObject,
  previous: KubeObject | undefined,
  errors: FieldError[],
): void {
  prepareWorkload(o, previous, errors);
  const spec = obj(o.spec);
  const strategy = obj(spec.strategy);
  spec.strategy = strategy;
  strategy.type ??= 'RollingUpdate';
  if (strategy.type === 'RollingUpdate') {
    const rolling = obj(strategy.rollingUpdate);
    strategy.rollingUpdate = rolling;
    rolling.maxSurge ??= '25%';
    rolling.maxUnavailable ??= '25%';
    validateIntOrPercent(rolling.maxSurge, 'spec.strategy.rollingUpdate.maxSurge', errors);
    validateIntOrPercent(
      rolling.maxUnavailable,
      'spec.strategy.rollingUpdate.maxUnavailable',
      errors,
    );
    if (isZero(rolling.maxSurge) && isZero(rolling.maxUnavailable)) {
      errors.push({
        field: 'spec.strategy.rollingUpdate.maxUnavailable',
        detail: 'Invalid value: 0: may not be 0 when `maxSurge` is 0',
      });
    }
  } else if (strategy.type === 'Recreate') {
    if (strategy.rollingUpdate !== undefined) {
      errors.push({
        field: 'spec.strategy.rollingUpdate',
        detail: "Forbidden: may not be specified when strategy `type` is 'Recreate'",
      });
    }
  } else {
    errors.push({
      field: 'spec.strategy.type',
      detail: `Unsupported value: ${JSON.stringify(strategy.type)}: supported values: "Recreate", "RollingUpdate"`,
      type: 'FieldValueNotSupported',
    });
  }
  spec.revisionHistoryLimit ??= 10;
  spec.progressDeadlineSeconds ??= 600;
  for (const field of ['revisionHistoryLimit', 'progressDeadlineSeconds', 'minReadySeconds']) {
    const v = spec[field];
    if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < 0)) {
      errors.push({
        field: `spec.${field}`,
        detail: `Invalid value: ${JSON.stringify(v)}: must be greater than or equal to 0`,
      });
    }
  }
  if (
    typeof spec.progressDeadlineSeconds === 'number' &&
    spec.progressDeadlineSeconds <= Number(spec.minReadySeconds ?? 0)
  ) {
    errors.push({
      field: 'spec.progressDeadlineSeconds',
      detail: `Invalid value: ${spec.progressDeadlineSeconds}: must be greater than minReadySeconds`,
    });
  }
  if (spec.paused !== undefined && typeof spec.paused !== 'boolean') {
    errors.push({
      field: 'spec.paused',
      detail: `Invalid value: ${JSON.stringify(spec.paused)}: must be a boolean`,
    });
  }
}

/** A stable private address for a service, so the same name always gets the same one. */
function clusterIpFor(namespace: string, name: string): string {
  let hash = 0x811c9dc5;
  for (const ch of `${namespace}/${name}`)
    hash = Math.imul(hash ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  return `10.96.${(hash >>> 8) & 0xff}.${(hash & 0xfd) + 1}`;
}

function prepareService(
  o: KubeObject,
  previous: KubeObject | undefined,
  errors: FieldError[],
): void {
  const spec = obj(o.spec);
  o.spec = spec;
  const before = obj(previous?.spec);
  spec.type ??= 'ClusterIP';
  if (spec.type !== 'ExternalName') {
    spec.clusterIP ??=
      before.clusterIP ?? clusterIpFor(o.metadata.namespace ?? '', o.metadata.name);
    spec.clusterIPs ??= [spec.clusterIP];
    spec.ipFamilies ??= ['IPv4'];
    spec.ipFamilyPolicy ??= 'SingleStack';
    spec.internalTrafficPolicy ??= 'Cluster';
  }
  spec.sessionAffinity ??= 'None';
  const ports = spec.ports;
  if (
    spec.type !== 'ExternalName' &&
    spec.clusterIP !== 'None' &&
    (!Array.isArray(ports) || ports.length === 0)
  ) {
    errors.push({ field: 'spec.ports', detail: 'Required value' });
  }
  if (Array.isArray(ports)) {
    ports.forEach((p, i) => {
      if (!isPlainObject(p) || typeof p.port !== 'number' || p.port < 1 || p.port > 65535) {
        errors.push({
          field: `spec.ports[${i}].port`,
          detail: `Invalid value: ${JSON.stringify(isPlainObject(p) ? p.port : p)}: must be between 1 and 65535, inclusive`,
        });
        return;
      }
      p.protocol ??= 'TCP';
      p.targetPort ??= p.port;
    });
  }
  validateStringMap(spec.selector, 'spec.selector', errors);
  o.status ??= { loadBalancer: {} };
}

function prepareNamespace(o: KubeObject): void {
  o.metadata.labels = { ...o.metadata.labels, 'kubernetes.io/metadata.name': o.metadata.name };
  o.spec = { finalizers: ['kubernetes'], ...obj(o.spec) };
  o.status = { phase: 'Active', ...obj(o.status) };
}

function prepareConfigMap(o: KubeObject, errors: FieldError[]): void {
  validateStringMap(o.data, 'data', errors);
  validateStringMap(o.binaryData, 'binaryData', errors);
}

/**
 * Defaults and validates an object on its way into the store, as the API server's registry
 * strategies do. `previous` is the stored object on updates. Throws a 422 Invalid listing every
 * problem found.
 */
export function prepareObject(r: ResourceType, o: KubeObject, previous?: KubeObject): KubeObject {
  const errors: FieldError[] = [];
  validateMetadata(r, o, errors);
  if (r === deployments) prepareDeployment(o, previous, errors);
  else if (r === replicaSets) prepareWorkload(o, previous, errors);
  else if (r === services) prepareService(o, previous, errors);
  else if (r === namespaces) prepareNamespace(o);
  else if (r === configMaps) prepareConfigMap(o, errors);
  else if (o.spec !== undefined && !isPlainObject(o.spec)) {
    errors.push({
      field: 'spec',
      detail: `Invalid value: ${JSON.stringify(o.spec)}: must be an object`,
    });
  }
  if (errors.length > 0) throw invalid(r, o.metadata.name || o.metadata.generateName || '', errors);
  return o;
}
