import { createHash } from 'node:crypto';
import { groupVersions, resourceTypes } from './resources';

/**
 * Just enough OpenAPI v3 for kubectl: it reads the PATCH operation of a kind to learn whether the
 * server validates fields itself (`fieldValidation`), and without these documents `kubectl apply`
 * refuses to run. Schemas are left out, so kubectl computes patches from its built-in types.
 */
function groupVersionPath(group: string, version: string): string {
  return group ? `apis/${group}/${version}` : `api/${version}`;
}

const queryParameter = (name: string) => ({
  name,
  in: 'query',
  schema: { type: 'string', uniqueItems: true },
});

function groupVersionDocument(group: string, version: string): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  for (const r of resourceTypes.filter((t) => t.group === group && t.version === version)) {
    const prefix = `/${groupVersionPath(group, version)}${r.namespaced ? '/namespaces/{namespace}' : ''}`;
    const gvk = { group, version, kind: r.kind };
    const operation = (action: string, params: string[]) => ({
      operationId: `${action}${r.kind}`,
      parameters: params.map(queryParameter),
      responses: { '200': { description: 'OK' } },
      'x-kubernetes-action': action,
      'x-kubernetes-group-version-kind': gvk,
    });
    paths[`${prefix}/${r.resource}`] = {
      get: operation('list', ['labelSelector', 'fieldSelector', 'watch']),
      ...(r.readOnly
        ? {}
        : { post: operation('post', ['dryRun', 'fieldManager', 'fieldValidation']) }),
    };
    paths[`${prefix}/${r.resource}/{name}`] = {
      get: operation('get', []),
      ...(r.readOnly
        ? {}
        : {
            put: operation('put', ['dryRun', 'fieldManager', 'fieldValidation']),
            patch: operation('patch', ['dryRun', 'fieldManager', 'fieldValidation', 'force']),
            delete: operation('delete', ['dryRun', 'propagationPolicy']),
          }),
    };
  }
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes', version: 'v1.32.0-sandbox' },
    paths,
    components: { schemas: {} },
  };
}

const documents = new Map(
  groupVersions.map((gv) => {
    const doc = groupVersionDocument(gv.group, gv.version);
    const hash = createHash('sha512')
      .update(JSON.stringify(doc))
      .digest('hex')
      .slice(0, 64)
      .toUpperCase();
    return [groupVersionPath(gv.group, gv.version), { doc, hash }];
  }),
);

/** The document at an /openapi/... path, or undefined. */
export function openApiDocument(path: string): unknown {
  if (path === '/openapi/v3') {
    const paths: Record<string, unknown> = {};
    for (const [key, { hash }] of documents) {
      paths[key] = { serverRelativeURL: `/openapi/v3/${key}?hash=${hash}` };
    }
    return { paths };
  }
  if (path.startsWith('/openapi/v3/')) return documents.get(path.slice('/openapi/v3/'.length))?.doc;
  return undefined;
}
