import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  isWatch,
  parseResourcePath,
  sendStatus,
  type ResourceApi,
  type ResourceRoute,
} from './api';
import { ApiError, conflict } from './errors';
import { isPlainObject } from './objects';
import { openApiDocument } from './openapi';
import {
  apiGroupDocument,
  apiGroupListDocument,
  apiResourceListDocument,
  apiVersionsDocument,
  serverVersion,
} from './resources';
import type { TrafficSimulator } from './traffic';

export interface Faults {
  /** Share (0..1) of API requests answered 503. */
  serverErrorRate: number;
  /** Share (0..1) of PUT and PATCH requests answered 409 Conflict. */
  conflictOnUpdate: number;
  /** Delay added to every API request. */
  latencyMs: number;
}

export const noFaults: Faults = { serverErrorRate: 0, conflictOnUpdate: 0, latencyMs: 0 };

/** Checks a partial Faults from a client; throws a 400 naming the bad field. */
export function validateFaults(input: unknown): Partial<Faults> {
  if (!isPlainObject(input)) throw new ApiError(400, 'BadRequest', 'faults must be a JSON object');
  const out: Partial<Faults> = {};
  for (const [key, value] of Object.entries(input)) {
    if (key !== 'serverErrorRate' && key !== 'conflictOnUpdate' && key !== 'latencyMs') {
      throw new ApiError(
        400,
        'BadRequest',
        `unknown fault "${key}": expected serverErrorRate, conflictOnUpdate or latencyMs`,
      );
    }
    const isRate = key !== 'latencyMs';
    if (
      typeof value !== 'number' ||
      !Number.isFinite(value) ||
      value < 0 ||
      (isRate && value > 1)
    ) {
      throw new ApiError(
        400,
        'BadRequest',
        `${key} must be a number ${isRate ? 'between 0 and 1' : 'of milliseconds, at least 0'}`,
      );
    }
    out[key] = value;
  }
  return out;
}

export interface RequestHandlerParts {
  api: ResourceApi;
  traffic: TrafficSimulator;
  faults(): Faults;
  setFaults(f: Partial<Faults>): void;
  hostPort(): string;
  /** Schedules a delay that close() can cancel. */
  delay(ms: number): Promise<void>;
}

const maxBody = 8 * 1024 * 1024;

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBody) {
        reject(new ApiError(413, 'RequestEntityTooLarge', 'the request body is too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

function sendText(res: ServerResponse, code: number, contentType: string, text: string): void {
  res.writeHead(code, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

const notFoundPath = (): ApiError =>
  new ApiError(404, 'NotFound', 'the server could not find the requested resource');

/** Discovery and OpenAPI documents, or undefined when the path is not one. */
function discovery(path: string, hostPort: string): unknown {
  if (path === '/version') return serverVersion;
  if (path === '/api') return apiVersionsDocument(hostPort);
  if (path === '/apis') return apiGroupListDocument();
  const parts = path.split('/').filter((p) => p !== '');
  if (parts[0] === 'api' && parts.length === 2)
    return apiResourceListDocument('', parts[1] ?? '') ?? null;
  if (parts[0] === 'apis' && parts.length === 2) return apiGroupDocument(parts[1] ?? '') ?? null;
  if (parts[0] === 'apis' && parts.length === 3)
    return apiResourceListDocument(parts[1] ?? '', parts[2] ?? '') ?? null;
  if (parts[0] === 'openapi') return openApiDocument(path) ?? null;
  return undefined;
}

export function createRequestHandler(parts: RequestHandlerParts) {
  const apiRequests = new Map<string, number>();
  const count = (verb: string, resource: string, code: number) => {
    const key = `verb="${verb}",resource="${resource}",code="${code}"`;
    apiRequests.set(key, (apiRequests.get(key) ?? 0) + 1);
  };

  async function serveResource(
    route: ResourceRoute,
    url: URL,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<number> {
    const body = req.method === 'GET' ? Buffer.alloc(0) : await readBody(req);
    const faults = parts.faults();
    if (faults.latencyMs > 0) await parts.delay(faults.latencyMs);
    if (faults.serverErrorRate > 0 && Math.random() < faults.serverErrorRate) {
      throw new ApiError(
        503,
        'ServiceUnavailable',
        'the server is currently unable to handle the request',
      );
    }
    if (
      (route.verb === 'update' || route.verb === 'patch') &&
      faults.conflictOnUpdate > 0 &&
      Math.random() < faults.conflictOnUpdate
    ) {
      throw conflict(route.resource, route.name ?? '');
    }
    return parts.api.handle(route, url, req, res, body);
  }

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sandbox');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const method = req.method ?? 'GET';

    if (path === '/sandbox/faults') {
      if (method === 'PUT' || method === 'POST') {
        let input: unknown;
        try {
          input = JSON.parse((await readBody(req)).toString('utf8'));
        } catch {
          throw new ApiError(400, 'BadRequest', 'faults must be JSON');
        }
        parts.setFaults(validateFaults(input));
      } else if (method !== 'GET') {
        throw new ApiError(405, 'MethodNotAllowed', 'use GET or PUT');
      }
      sendJson(res, 200, parts.faults());
      return;
    }
    if (path === '/metrics') {
      parts.traffic.advance();
      sendText(
        res,
        200,
        'text/plain; version=0.0.4; charset=utf-8',
        parts.traffic.exposition(apiRequests),
      );
      return;
    }
    if (path === '/healthz' || path === '/livez' || path === '/readyz') {
      sendText(res, 200, 'text/plain; charset=utf-8', 'ok');
      return;
    }

    const route = parseResourcePath(method, path);
    if (route) {
      const resource = route.subresource
        ? `${route.resource.resource}/${route.subresource}`
        : route.resource.resource;
      const verb = isWatch(url) ? 'watch' : route.verb;
      try {
        count(verb, resource, await serveResource(route, url, req, res));
      } catch (e) {
        count(verb, resource, e instanceof ApiError ? e.code : 500);
        throw e;
      }
      return;
    }
    if (method === 'GET') {
      const doc = discovery(path, parts.hostPort());
      if (doc !== undefined) {
        if (doc === null) throw notFoundPath();
        sendJson(res, 200, doc);
        return;
      }
    }
    throw notFoundPath();
  }

  return (req: IncomingMessage, res: ServerResponse): void => {
    serve(req, res).catch((e: unknown) => {
      const error =
        e instanceof ApiError
          ? e
          : new ApiError(500, 'InternalError', `Internal error occurred: ${(e as Error).message}`);
      if (res.headersSent) {
        res.end();
        return;
      }
      sendStatus(res, error);
    });
  };
}
