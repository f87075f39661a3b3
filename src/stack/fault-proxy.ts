/**
 * A reverse proxy in front of a Kubernetes API server that fails on demand, for the reliability
 * tests: a share of requests answered 503, a share of updates (PUT, PATCH) answered 409 Conflict,
 * and latency added to every request. The real API server does not fail when asked; this does.
 *
 * It listens plain HTTP on 127.0.0.1 and forwards everything else as it is over TLS to the API
 * server named by a kubeconfig (its CA, and its client certificate when the user has one). Watch
 * responses and upgraded connections (exec, port-forward) stream through unbuffered. The
 * kubeconfig it writes carries no credentials: the proxy authenticates upstream as the source
 * kubeconfig's user, unless a client sends an Authorization header of its own, which is kept.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import {
  Agent as HttpAgent,
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { stringify as toYaml } from 'yaml';

export interface Faults {
  /** Share (0..1) of requests answered 503 ServiceUnavailable instead of being forwarded. */
  serverErrorRate: number;
  /** Share (0..1) of PUT and PATCH requests answered 409 Conflict instead of being forwarded. */
  conflictOnUpdate: number;
  /** Milliseconds added before every request is forwarded or failed. */
  latencyMs: number;
}

export const noFaults: Faults = { serverErrorRate: 0, conflictOnUpdate: 0, latencyMs: 0 };

/** Checks a partial Faults; throws a RangeError naming the bad field. */
export function validateFaults(input: Partial<Faults>): Partial<Faults> {
  const out: Partial<Faults> = {};
  for (const [key, value] of Object.entries(input) as [string, unknown][]) {
    if (key !== 'serverErrorRate' && key !== 'conflictOnUpdate' && key !== 'latencyMs') {
      throw new RangeError(
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
      throw new RangeError(
        `${key} must be a number ${isRate ? 'between 0 and 1' : 'of milliseconds, at least 0'}`,
      );
    }
    out[key] = value;
  }
  return out;
}

export interface FaultProxyOptions {
  /** The kubeconfig of the API server to put the proxy in front of (its current context). */
  kubeconfigPath: string;
  /** Faults from the start; none when absent. */
  faults?: Partial<Faults>;
  /** Default 0: a free port on 127.0.0.1. */
  port?: number;
  /** Where to write the proxy's kubeconfig; a file in a new temporary folder when absent. */
  kubeconfigOut?: string;
  /** The namespace the written kubeconfig's context defaults to; the source's when absent. */
  namespace?: string;
  /** The dice; Math.random when absent (tests hand in a seeded one). */
  random?: () => number;
}

export interface FaultCounts {
  /** Requests forwarded to the API server (upgrades included). */
  forwarded: number;
  /** Requests answered 503 by the proxy. */
  serverErrors: number;
  /** Updates answered 409 by the proxy. */
  conflicts: number;
}

export interface FaultProxy {
  /** http://127.0.0.1:PORT */
  url: string;
  /** A kubeconfig for url (cluster, user and context `fault-proxy`), for kubectl and the client. */
  kubeconfigPath: string;
  faults(): Faults;
  /** Changes the given faults at once for requests that arrive from now on; others stay. */
  setFaults(faults: Partial<Faults>): void;
  counts(): FaultCounts;
  /** Closes the listener, every open connection and stream (watches included). Idempotent. */
  stop(): Promise<void>;
}

/** Headers that belong to one hop and are not forwarded (RFC 9110 7.6.1). */
const hopByHop = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

function forwardedHeaders(headers: IncomingHttpHeaders, keepUpgrade = false): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  const named = new Set(
    String(headers.connection ?? '')
      .split(',')
      .map((h) => h.trim().toLowerCase())
      .filter(Boolean),
  );
  for (const [key, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    if (!keepUpgrade && (hopByHop.has(key) || named.has(key))) continue;
    if (keepUpgrade && key !== 'connection' && key !== 'upgrade' && hopByHop.has(key)) continue;
    out[key] = value;
  }
  return out;
}

/**
 * Copies what `from` reads to `to`. Both sides hold half-closed sockets open (HTTP servers
 * allow half-open connections), so an end from one side closes both, or an exec session
 * would outlive its client.
 */
function splice(from: Socket, to: Socket): void {
  from.pipe(to, { end: false });
  from.on('end', () => {
    from.end();
    to.end(() => to.destroy());
  });
  from.on('close', () => to.destroy());
  from.on('error', () => to.destroy());
}

interface Resource {
  kind: string;
  name: string;
}

/** The resource (`deployments.apps`) and object name of an API path, for the 409's message. */
export function resourceOfPath(path: string): Resource {
  const parts = path.split('?')[0]?.split('/').filter(Boolean) ?? [];
  let rest: string[];
  let group = '';
  if (parts[0] === 'api') rest = parts.slice(2);
  else if (parts[0] === 'apis') {
    group = parts[1] ?? '';
    rest = parts.slice(3);
  } else rest = parts;
  if (rest[0] === 'namespaces' && rest.length > 2) rest = rest.slice(2);
  const resource = rest[0] ?? '';
  return { kind: group ? `${resource}.${group}` : resource, name: rest[1] ?? '' };
}

function sendStatus(
  res: ServerResponse,
  code: number,
  reason: string,
  message: string,
  details?: Record<string, string>,
): void {
  const body = JSON.stringify({
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(details ? { details } : {}),
    code,
  });
  res.writeHead(code, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

interface Upstream {
  url: URL;
  agent: HttpAgent;
  /** The source user's Authorization header, when it has a token (or basic credentials). */
  authorization?: string;
  namespace?: string;
}

async function upstreamOf(kubeconfigPath: string): Promise<Upstream> {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(kubeconfigPath);
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) throw new Error(`${kubeconfigPath}: its current context names no cluster`);
  const url = new URL(cluster.server);
  const options: RequestOptions = {};
  // Fills in the CA, the client certificate and key, and the user's token as a header.
  await kubeConfig.applyToHTTPSOptions(options);
  const headers = (options.headers ?? {}) as Record<string, string | undefined>;
  let authorization = headers.Authorization ?? headers.authorization;
  if (!authorization && options.auth) {
    authorization = `Basic ${Buffer.from(options.auth).toString('base64')}`;
  }
  const agent =
    url.protocol === 'https:'
      ? new HttpsAgent({
          keepAlive: true,
          ca: options.ca,
          cert: options.cert,
          key: options.key,
          rejectUnauthorized: !cluster.skipTLSVerify,
          ...(cluster.tlsServerName ? { servername: cluster.tlsServerName } : {}),
        })
      : new HttpAgent({ keepAlive: true });
  const context = kubeConfig.getContextObject(kubeConfig.getCurrentContext());
  return {
    url,
    agent,
    ...(authorization ? { authorization } : {}),
    ...(context?.namespace ? { namespace: context.namespace } : {}),
  };
}

function proxyKubeconfig(url: string, namespace: string | undefined): string {
  return toYaml({
    apiVersion: 'v1',
    kind: 'Config',
    // Plain HTTP on loopback: @kubernetes/client-node wants TLS verification marked skipped.
    clusters: [{ name: 'fault-proxy', cluster: { server: url, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'fault-proxy', user: {} }],
    contexts: [
      {
        name: 'fault-proxy',
        context: {
          cluster: 'fault-proxy',
          user: 'fault-proxy',
          ...(namespace ? { namespace } : {}),
        },
      },
    ],
    'current-context': 'fault-proxy',
    preferences: {},
  });
}

/** Starts the proxy and writes its kubeconfig; resolves once it listens. */
export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const upstream = await upstreamOf(options.kubeconfigPath);
  const random = options.random ?? Math.random;
  let faults: Faults = { ...noFaults, ...validateFaults(options.faults ?? {}) };
  const counts: FaultCounts = { forwarded: 0, serverErrors: 0, conflicts: 0 };
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let stopped = false;

  const send = upstream.url.protocol === 'https:' ? httpsRequest : httpRequest;
  const basePath = upstream.url.pathname.replace(/\/+$/, '');

  function upstreamOptions(req: IncomingMessage, headers: IncomingHttpHeaders): RequestOptions {
    if (!headers.authorization && upstream.authorization) {
      headers.authorization = upstream.authorization;
    }
    headers.host = upstream.url.host;
    return {
      protocol: upstream.url.protocol,
      hostname: upstream.url.hostname,
      port: upstream.url.port,
      method: req.method,
      path: `${basePath}${req.url ?? '/'}`,
      headers,
      agent: upstream.agent,
    };
  }

  function wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, ms);
      timers.add(timer);
    });
  }

  /** The fault this request draws, after the added latency; undefined to forward it. */
  async function draw(req: IncomingMessage): Promise<'error' | 'conflict' | undefined> {
    const now = faults;
    if (now.latencyMs > 0) await wait(now.latencyMs);
    if (now.serverErrorRate > 0 && random() < now.serverErrorRate) return 'error';
    const update = req.method === 'PUT' || req.method === 'PATCH';
    if (update && now.conflictOnUpdate > 0 && random() < now.conflictOnUpdate) return 'conflict';
    return undefined;
  }

  function forward(req: IncomingMessage, res: ServerResponse): void {
    counts.forwarded += 1;
    const out = send(upstreamOptions(req, forwardedHeaders(req.headers)), (answer) => {
      res.writeHead(
        answer.statusCode ?? 502,
        answer.statusMessage,
        forwardedHeaders(answer.headers),
      );
      // Every chunk goes out as it arrives: a watch is one long response of events.
      res.flushHeaders();
      answer.pipe(res);
      answer.on('error', () => res.destroy());
    });
    out.on('error', (error) => {
      if (res.headersSent) res.destroy();
      else sendStatus(res, 502, 'InternalError', `fault proxy: API server: ${error.message}`);
    });
    // A client that goes away (a watch closed) ends the upstream request with it.
    res.on('close', () => {
      if (!res.writableFinished) out.destroy();
    });
    req.pipe(out);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const fault = await draw(req);
    if (stopped) {
      res.destroy();
      return;
    }
    if (fault === undefined) {
      forward(req, res);
      return;
    }
    req.resume();
    if (fault === 'error') {
      counts.serverErrors += 1;
      sendStatus(
        res,
        503,
        'ServiceUnavailable',
        'the server is currently unable to handle the request (injected by the fault proxy)',
      );
      return;
    }
    counts.conflicts += 1;
    const { kind, name } = resourceOfPath(req.url ?? '/');
    sendStatus(
      res,
      409,
      'Conflict',
      `Operation cannot be fulfilled on ${kind} "${name}": the object has been modified; please apply your changes to the latest version and try again (injected by the fault proxy)`,
      { name, kind: kind.split('.')[0] ?? kind },
    );
  }

  function upgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    void draw(req).then((fault) => {
      if (stopped) {
        socket.destroy();
        return;
      }
      // Upgrades are GETs: only the 503 share applies to them.
      if (fault !== undefined) {
        counts.serverErrors += 1;
        socket.end(
          'HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n',
        );
        return;
      }
      counts.forwarded += 1;
      const out = send(upstreamOptions(req, forwardedHeaders(req.headers, true)));
      out.on('upgrade', (answer, upstreamSocket, upstreamHead) => {
        const lines = [`HTTP/1.1 ${answer.statusCode ?? 101} ${answer.statusMessage ?? ''}`];
        for (let i = 0; i < answer.rawHeaders.length; i += 2) {
          lines.push(`${answer.rawHeaders[i]}: ${answer.rawHeaders[i + 1]}`);
        }
        socket.write(`${lines.join('\r\n')}\r\n\r\n`);
        if (upstreamHead.length > 0) socket.write(upstreamHead);
        if (head.length > 0) upstreamSocket.write(head);
        sockets.add(upstreamSocket);
        upstreamSocket.on('close', () => sockets.delete(upstreamSocket));
        splice(socket, upstreamSocket);
        splice(upstreamSocket, socket);
      });
      // The API server refused the upgrade: its answer goes back as a plain response.
      out.on('response', (answer) => {
        const lines = [`HTTP/1.1 ${answer.statusCode ?? 502} ${answer.statusMessage ?? ''}`];
        for (let i = 0; i < answer.rawHeaders.length; i += 2) {
          const name = answer.rawHeaders[i] ?? '';
          if (hopByHop.has(name.toLowerCase())) continue;
          lines.push(`${name}: ${answer.rawHeaders[i + 1]}`);
        }
        lines.push('Connection: close');
        socket.write(`${lines.join('\r\n')}\r\n\r\n`);
        answer.pipe(socket);
      });
      out.on('error', () => socket.destroy());
      out.end();
    });
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (res.headersSent) res.destroy();
      else sendStatus(res, 500, 'InternalError', `fault proxy: ${String(error)}`);
    });
  });
  // Watches are long responses; nothing on this side cuts them short.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('upgrade', upgrade);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  let tempDir: string | undefined;
  let kubeconfigPath = options.kubeconfigOut;
  try {
    if (!kubeconfigPath) {
      tempDir = await mkdtemp(join(tmpdir(), 'changectl-fault-proxy-'));
      kubeconfigPath = join(tempDir, 'kubeconfig');
    }
    await writeFile(kubeconfigPath, proxyKubeconfig(url, options.namespace ?? upstream.namespace), {
      mode: 0o600,
    });
  } catch (error) {
    server.close();
    upstream.agent.destroy();
    throw error;
  }

  let stopping: Promise<void> | undefined;
  return {
    url,
    kubeconfigPath,
    faults: () => ({ ...faults }),
    setFaults(f) {
      faults = { ...faults, ...validateFaults(f) };
    },
    counts: () => ({ ...counts }),
    stop() {
      stopping ??= (async () => {
        stopped = true;
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const socket of sockets) socket.destroy();
        server.closeAllConnections();
        await closed;
        upstream.agent.destroy();
        if (tempDir) await rm(tempDir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
}
