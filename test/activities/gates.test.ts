import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { createGateActivities } from '../../activities/gates';
import type { GateInput } from '../../src/core/contracts';
import { runAsActivity } from './kubernetes-harness';

interface Received {
  method?: string;
  contentType?: string;
  body: unknown;
}

/** A webhook on loopback that answers each path as the test says; closed when the test ends. */
async function webhook(t: TestContext) {
  const received: Received[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    let text = '';
    req.on('data', (chunk: Buffer) => (text += chunk.toString()));
    req.on('end', () => {
      received.push({
        ...(req.method ? { method: req.method } : {}),
        ...(req.headers['content-type'] ? { contentType: req.headers['content-type'] } : {}),
        body: JSON.parse(text) as unknown,
      });
      if (req.url === '/pass') res.writeHead(200).end('go');
      else if (req.url === '/slow') setTimeout(() => res.writeHead(200).end(), 3_000);
      else res.writeHead(403).end('load test not finished');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { base, received };
}

function gateInput(webhookName: string, timeoutMs = 2_000): GateInput {
  return {
    webhook: webhookName,
    timeoutMs,
    payload: {
      name: 'load-test',
      namespace: 'production',
      phase: 'pre-rollout',
      changeId: 'CHG-1',
      services: ['api-gateway'],
      images: ['registry.example.com/api-gateway:2.5.0'],
    },
  };
}

void describe('gate activities against a real HTTP webhook', () => {
  void it('passes on 2xx, posting the change summary as JSON', async (t) => {
    const { base, received } = await webhook(t);
    const gates = createGateActivities({ load: `${base}/pass` });
    const { result } = await runAsActivity(() => gates.runGate(gateInput('load')));
    assert.deepEqual(
      { ...result, at: undefined },
      {
        name: 'load-test',
        webhook: 'load',
        phase: 'pre-rollout',
        passed: true,
        status: 200,
        message: 'load answered 200: go',
        at: undefined,
      },
    );
    assert.deepEqual(received, [
      { method: 'POST', contentType: 'application/json', body: gateInput('load').payload },
    ]);
  });

  void it('fails on any other status, on a timeout, unreachable or unknown webhooks', async (t) => {
    const { base } = await webhook(t);
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const gates = createGateActivities({
      refuse: `${base}/refuse`,
      slow: `${base}/slow`,
      gone: `http://127.0.0.1:${closedPort}/`,
    });
    const refused = (await runAsActivity(() => gates.runGate(gateInput('refuse')))).result;
    assert.deepEqual(
      [refused.passed, refused.status, refused.message],
      [false, 403, 'refuse answered 403: load test not finished'],
    );
    const slow = (await runAsActivity(() => gates.runGate(gateInput('slow', 500)))).result;
    assert.deepEqual([slow.passed, slow.message], [false, 'slow did not answer within 500 ms']);
    const gone = (await runAsActivity(() => gates.runGate(gateInput('gone')))).result;
    assert.equal(gone.passed, false);
    assert.match(gone.message, /^gone unreachable: .*ECONNREFUSED/);
    const unknown = (await runAsActivity(() => gates.runGate(gateInput('nope')))).result;
    assert.deepEqual(
      [unknown.passed, unknown.message],
      [false, "no webhook 'nope' in the worker's configuration"],
    );
  });
});
