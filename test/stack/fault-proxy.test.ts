import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { resourceOfPath, startFaultProxy, type FaultProxy } from '../../src/stack/fault-proxy';

interface Seen {
  method: string;
  url: string;
  authorization: string | undefined;
  body: string;
}

interface Upstream {
  url: string;
  seen: Seen[];
  /** Resolves when the streaming request's client has gone away. */
  streamClosed: Promise<void>;
  /** Resolves when the upgraded connection has closed on the server's side. */
  upgradedClosed: Promise<void>;
  /** Sends the next chunk of the open stream. */
  streamWrite(text: string): void;
}

/** An HTTP server standing in for the API server: echoes requests, and streams on /watch. */
async function upstreamFor(t: TestContext): Promise<Upstream> {
  const seen: Seen[] = [];
  let stream: ServerResponse | undefined;
  let closed!: () => void;
  let upgradeClosed!: () => void;
  const upgradedClosed = new Promise<void>((resolve) => (upgradeClosed = resolve));
  const streamClosed = new Promise<void>((resolve) => (closed = resolve));
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const entry = {
        method: req.method ?? '',
        url: req.url ?? '',
        authorization: req.headers.authorization,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      seen.push(entry);
      if (req.url?.startsWith('/watch')) {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.flushHeaders();
        stream = res;
        res.on('close', () => closed());
        return;
      }
      const body = JSON.stringify(entry);
      res.writeHead(200, { 'Content-Type': 'application/json', 'X-Upstream': 'yes' });
      res.end(body);
    });
  });
  // Upgraded connections (exec, port-forward) echo what they get, upper-cased.
  server.on('upgrade', (req: IncomingMessage, socket: Socket) => {
    seen.push({
      method: req.method ?? '',
      url: req.url ?? '',
      authorization: req.headers.authorization,
      body: '',
    });
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n',
    );
    socket.on('data', (data: Buffer) => socket.write(data.toString('utf8').toUpperCase()));
    socket.on('end', () => socket.end());
    socket.on('close', () => upgradeClosed());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    streamClosed,
    upgradedClosed,
    streamWrite(text) {
      assert.ok(stream, 'a stream is open');
      stream.write(text);
    },
  };
}

async function kubeconfigFor(t: TestContext, server: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'fault-proxy-test-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'kubeconfig');
  await writeFile(
    path,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'u', user: { token: 'source-token' } }],
      contexts: [{ name: 'x', context: { cluster: 'c', user: 'u', namespace: 'production' } }],
      'current-context': 'x',
    }),
  );
  return path;
}

/** A seeded generator, so shares are the same on every run. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

async function proxyFor(
  t: TestContext,
  options: Partial<Parameters<typeof startFaultProxy>[0]> = {},
): Promise<{ proxy: FaultProxy; upstream: Upstream }> {
  const upstream = await upstreamFor(t);
  const proxy = await startFaultProxy({
    kubeconfigPath: await kubeconfigFor(t, upstream.url),
    ...options,
  });
  t.after(() => proxy.stop());
  return { proxy, upstream };
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

async function call(
  base: string,
  method: string,
  path: string,
  options: { body?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: options.headers ?? {},
    ...(options.body !== undefined ? { body: options.body } : {}),
  });
  return {
    status: response.status,
    headers: Object.fromEntries(response.headers),
    body: await response.text(),
  };
}

void describe('fault proxy', () => {
  void it('names the resource and object of an API path', () => {
    assert.deepEqual(resourceOfPath('/apis/apps/v1/namespaces/production/deployments/web'), {
      kind: 'deployments.apps',
      name: 'web',
    });
    assert.deepEqual(resourceOfPath('/api/v1/namespaces/production/configmaps/c?fieldManager=x'), {
      kind: 'configmaps',
      name: 'c',
    });
    assert.deepEqual(resourceOfPath('/api/v1/namespaces/production'), {
      kind: 'namespaces',
      name: 'production',
    });
  });

  void it('forwards requests as they are, authenticating as the source user', async (t) => {
    const { proxy, upstream } = await proxyFor(t);
    const answer = await call(proxy.url, 'POST', '/api/v1/namespaces/x/configmaps?dryRun=All', {
      body: '{"kind":"ConfigMap"}',
      headers: { 'Content-Type': 'application/json' },
    });
    assert.equal(answer.status, 200);
    assert.equal(answer.headers['x-upstream'], 'yes');
    assert.deepEqual(JSON.parse(answer.body), {
      method: 'POST',
      url: '/api/v1/namespaces/x/configmaps?dryRun=All',
      authorization: 'Bearer source-token',
      body: '{"kind":"ConfigMap"}',
    });
    // A client's own credentials are kept.
    await call(proxy.url, 'GET', '/version', { headers: { Authorization: 'Bearer mine' } });
    assert.equal(upstream.seen.at(-1)?.authorization, 'Bearer mine');
    assert.deepEqual(proxy.counts(), { forwarded: 2, serverErrors: 0, conflicts: 0 });

    // Its kubeconfig points at the proxy and carries no secret.
    const text = await readFile(proxy.kubeconfigPath, 'utf8');
    assert.doesNotMatch(text, /source-token/);
    const config = parseYaml(text) as {
      clusters: { cluster: { server: string } }[];
      contexts: { context: { namespace?: string } }[];
    };
    assert.equal(config.clusters[0]?.cluster.server, proxy.url);
    assert.equal(config.contexts[0]?.context.namespace, 'production');
  });

  void it('answers the set share of requests 503 with a Kubernetes Status', async (t) => {
    const { proxy, upstream } = await proxyFor(t, {
      faults: { serverErrorRate: 0.25 },
      random: seeded(7),
    });
    const statuses: number[] = [];
    for (let i = 0; i < 200; i++) statuses.push((await call(proxy.url, 'GET', '/api')).status);
    const failed = statuses.filter((s) => s === 503).length;
    assert.ok(failed > 30 && failed < 70, `about a quarter failed: ${failed} of 200`);
    assert.equal(statuses.filter((s) => s === 200).length, 200 - failed);
    assert.equal(upstream.seen.length, 200 - failed, 'failed requests never reach the server');
    assert.deepEqual(proxy.counts(), {
      forwarded: 200 - failed,
      serverErrors: failed,
      conflicts: 0,
    });

    proxy.setFaults({ serverErrorRate: 1 });
    const answer = await call(proxy.url, 'GET', '/api/v1/namespaces');
    assert.equal(answer.status, 503);
    assert.equal(answer.headers['content-type'], 'application/json');
    const status = JSON.parse(answer.body) as Record<string, unknown>;
    assert.equal(status.kind, 'Status');
    assert.equal(status.reason, 'ServiceUnavailable');
    assert.equal(status.code, 503);

    proxy.setFaults({ serverErrorRate: 0 });
    assert.equal((await call(proxy.url, 'GET', '/api')).status, 200);
  });

  void it('answers updates 409 Conflict, and only updates', async (t) => {
    const { proxy, upstream } = await proxyFor(t, { faults: { conflictOnUpdate: 1 } });
    const path = '/apis/apps/v1/namespaces/production/deployments/api-gateway';
    for (const method of ['PUT', 'PATCH']) {
      const answer = await call(proxy.url, method, path, { body: '{}' });
      assert.equal(answer.status, 409, method);
      const status = JSON.parse(answer.body) as {
        reason: string;
        message: string;
        details: { name: string; kind: string };
      };
      assert.equal(status.reason, 'Conflict');
      assert.match(
        status.message,
        /^Operation cannot be fulfilled on deployments\.apps "api-gateway": the object has been modified/,
      );
      assert.deepEqual(status.details, { name: 'api-gateway', kind: 'deployments' });
    }
    for (const method of ['GET', 'POST', 'DELETE']) {
      assert.equal((await call(proxy.url, method, path)).status, 200, method);
    }
    assert.deepEqual(
      upstream.seen.map((s) => s.method),
      ['GET', 'POST', 'DELETE'],
    );
    assert.deepEqual(proxy.counts(), { forwarded: 3, serverErrors: 0, conflicts: 2 });
  });

  void it('adds latency, changed at run time, and refuses bad faults', async (t) => {
    const { proxy } = await proxyFor(t, { faults: { latencyMs: 300 } });
    let started = Date.now();
    assert.equal((await call(proxy.url, 'GET', '/api')).status, 200);
    assert.ok(Date.now() - started >= 290, `delayed ${Date.now() - started} ms`);
    proxy.setFaults({ latencyMs: 0 });
    assert.deepEqual(proxy.faults(), { serverErrorRate: 0, conflictOnUpdate: 0, latencyMs: 0 });
    started = Date.now();
    await call(proxy.url, 'GET', '/api');
    assert.ok(Date.now() - started < 250, `not delayed: ${Date.now() - started} ms`);

    assert.throws(() => proxy.setFaults({ serverErrorRate: 1.5 }), /between 0 and 1/);
    assert.throws(() => proxy.setFaults({ latencyMs: -1 }), /at least 0/);
    assert.throws(
      () => proxy.setFaults({ nope: 1 } as unknown as { latencyMs: number }),
      /unknown fault "nope"/,
    );
    await assert.rejects(
      startFaultProxy({ kubeconfigPath: proxy.kubeconfigPath, faults: { conflictOnUpdate: 2 } }),
      /conflictOnUpdate must be a number between 0 and 1/,
    );
  });

  void it('streams a long response through as it comes, and ends it with the client', async (t) => {
    const { proxy, upstream } = await proxyFor(t);
    const chunks: string[] = [];
    let response!: IncomingMessage;
    const first = new Promise<void>((resolve, reject) => {
      const req = request(`${proxy.url}/watch?watch=true`, (res) => {
        response = res;
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          chunks.push(chunk);
          resolve();
        });
      });
      req.on('error', reject);
      req.end();
    });
    // The server holds the stream open: each event must reach the client before it ends.
    while (!upstream.seen.some((s) => s.url.startsWith('/watch'))) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    upstream.streamWrite('{"type":"ADDED"}\n');
    await first;
    assert.deepEqual(chunks, ['{"type":"ADDED"}\n']);
    upstream.streamWrite('{"type":"MODIFIED"}\n');
    while (chunks.length < 2) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(chunks[1], '{"type":"MODIFIED"}\n');

    // The client going away closes the upstream request too.
    response.destroy();
    await upstream.streamClosed;
  });

  void it('passes upgraded connections through both ways', async (t) => {
    const { proxy, upstream } = await proxyFor(t);
    const socket = await new Promise<Socket>((resolve, reject) => {
      const req = request(`${proxy.url}/api/v1/namespaces/x/pods/p/exec?command=sh`, {
        headers: { Connection: 'Upgrade', Upgrade: 'echo' },
      });
      req.on('upgrade', (res, upgraded) => {
        assert.equal(res.statusCode, 101);
        assert.equal(res.headers.upgrade, 'echo');
        resolve(upgraded);
      });
      req.on('error', reject);
      req.end();
    });
    const echoed = new Promise<string>((resolve) =>
      socket.once('data', (data: Buffer) => resolve(data.toString('utf8'))),
    );
    socket.write('hello');
    assert.equal(await echoed, 'HELLO');
    // The client hanging up ends the session on the server's side too.
    socket.destroy();
    await upstream.upgradedClosed;
    assert.equal(upstream.seen.at(-1)?.authorization, 'Bearer source-token');
    assert.equal(proxy.counts().forwarded, 1);
  });

  void it('closes open streams and its listener on stop', async (t) => {
    const { proxy, upstream } = await proxyFor(t);
    const ended = new Promise<string>((resolve) => {
      const req = request(`${proxy.url}/watch?watch=true`, (res) => {
        res.resume();
        res.on('close', () => resolve('closed'));
      });
      req.on('error', () => resolve('closed'));
      req.end();
    });
    while (!upstream.seen.some((s) => s.url.startsWith('/watch'))) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await proxy.stop();
    assert.equal(await ended, 'closed');
    await upstream.streamClosed;
    await assert.rejects(fetch(`${proxy.url}/api`));
  });
});
