import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import {
  createNotificationActivities,
  type NotificationRecord,
  type NotificationSinks,
} from '../../activities/notifications';
import type { Notification } from '../../src/core/contracts';
import { FailureType } from '../../src/core/errors';
import { closedPort } from '../helpers/ports';

const deploying: Notification = {
  kind: 'deploying',
  changeId: 'CHG-1234',
  text: 'DEPLOYING: api-gateway v2.5.0\nChange: CHG-1234\nExpected impact: none',
  audience: ['sre'],
};

// The SDK logs every failed activity at WARN; these tests fail activities on purpose.
const quiet = { logger: new DefaultLogger('ERROR') };

/** The activity as a plain function, as MockActivityEnvironment.run takes it. */
function notifierFor(sinks: NotificationSinks): (notification: Notification) => Promise<void> {
  const activities = createNotificationActivities(sinks);
  return (notification) => activities.notify(notification);
}

const complete: Notification = { kind: 'complete', changeId: 'CHG-1234', text: 'COMPLETE' };

function activityEnv(activityId = '7', runId = 'run-1', attempt = 1): MockActivityEnvironment {
  return new MockActivityEnvironment(
    { activityId, attempt, workflowExecution: { workflowId: 'change-CHG-1234', runId } },
    quiet,
  );
}

async function readRecords(path: string): Promise<NotificationRecord[]> {
  const text = await readFile(path, 'utf8');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as NotificationRecord);
}

function isNotificationFailure(nonRetryable: boolean, status?: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure, `an ApplicationFailure, got ${String(err)}`);
    assert.equal(err.type, FailureType.NotificationFailed);
    assert.equal(err.nonRetryable, nonRetryable);
    if (status) assert.match(err.message, status);
    return true;
  };
}

describe('log sink', () => {
  it('writes one line per message', async () => {
    const lines: string[] = [];
    const notify = notifierFor({ log: true, logger: (l) => lines.push(l) });
    await activityEnv().run(notify, deploying);
    await activityEnv().run(notify, complete);
    assert.equal(lines.length, 2);
    assert.ok(lines.every((l) => !l.includes('\n')));
    assert.equal(
      lines[0],
      'notification deploying CHG-1234 (for sre): DEPLOYING: api-gateway v2.5.0 | Change: CHG-1234 | Expected impact: none',
    );
    assert.equal(lines[1], 'notification complete CHG-1234: COMPLETE');
  });

  it('goes to the activity logger when no logger is given', async () => {
    const infos: string[] = [];
    const collect = new DefaultLogger('INFO', (entry) => {
      if (entry.level === 'INFO') infos.push(entry.message);
    });
    const notify = notifierFor({ log: true });
    await new MockActivityEnvironment({}, { logger: collect }).run(notify, deploying);
    assert.ok(
      infos.some((m) => m.startsWith('notification deploying CHG-1234')),
      infos.join('\n'),
    );
  });

  it('writes nothing when the log sink is off', async () => {
    const lines: string[] = [];
    const notify = notifierFor({ log: false, logger: (l) => lines.push(l) });
    await activityEnv().run(notify, deploying);
    assert.deepEqual(lines, []);
  });
});

describe('file sink', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'changectl-notify-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('appends one JSON line per message, with the time and a deterministic id', async () => {
    const file = join(dir, 'append.jsonl');
    const notify = notifierFor({ file });
    const before = Date.now();
    await activityEnv('1').run(notify, deploying);
    await activityEnv('2').run(notify, complete);
    const records = await readRecords(file);
    assert.equal(records.length, 2);
    assert.deepEqual(
      { ...records[0], at: undefined },
      {
        id: 'change-CHG-1234/run-1/1',
        at: undefined,
        kind: 'deploying',
        changeId: 'CHG-1234',
        text: deploying.text,
        audience: ['sre'],
      },
    );
    assert.equal(records[1]?.id, 'change-CHG-1234/run-1/2');
    const at = Date.parse(records[0]?.at ?? '');
    assert.ok(at >= before - 1000 && at <= Date.now(), `a current timestamp: ${records[0]?.at}`);
  });

  it('records a retried notification once', async () => {
    const file = join(dir, 'retry.jsonl');
    const notify = notifierFor({ file });
    await activityEnv('3').run(notify, deploying);
    await activityEnv('4').run(notify, complete);
    // The same activity again, as a retry after a later sink failed.
    await activityEnv('3', 'run-1', 2).run(notify, deploying);
    const ids = (await readRecords(file)).map((r) => r.id);
    assert.deepEqual(ids, ['change-CHG-1234/run-1/3', 'change-CHG-1234/run-1/4']);
  });

  it('records the same activity id of a new run (after continue-as-new) again', async () => {
    const file = join(dir, 'runs.jsonl');
    const notify = notifierFor({ file });
    await activityEnv('1', 'run-1').run(notify, deploying);
    await activityEnv('1', 'run-2').run(notify, deploying);
    assert.equal((await readRecords(file)).length, 2);
  });

  it('fails retryably when the file cannot be written', async () => {
    const folderInTheWay = join(dir, 'a-folder.jsonl');
    await mkdir(folderInTheWay);
    const notify = notifierFor({ file: folderInTheWay });
    await assert.rejects(activityEnv().run(notify, deploying), isNotificationFailure(false));
  });
});

describe('webhook sink', () => {
  let server: Server;
  let url: string;
  const received: { path: string; contentType: string; body: unknown }[] = [];
  let answer = 200;

  async function bodyOf(req: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }

  before(async () => {
    server = createServer((req, res) => {
      void bodyOf(req).then((text) => {
        received.push({
          path: req.url ?? '',
          contentType: req.headers['content-type'] ?? '',
          body: JSON.parse(text) as unknown,
        });
        res.writeHead(answer, { 'content-type': 'text/plain' });
        res.end(answer === 200 ? 'ok' : 'no_service');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    url = `http://127.0.0.1:${port}/services/T000/B000/s3cret`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  beforeEach(() => {
    received.length = 0;
    answer = 200;
  });

  it('posts Slack-style JSON', async () => {
    const notify = notifierFor({ webhookUrl: url });
    await activityEnv().run(notify, deploying);
    assert.equal(received.length, 1);
    assert.equal(received[0]?.path, '/services/T000/B000/s3cret');
    assert.equal(received[0]?.contentType, 'application/json');
    assert.deepEqual(received[0]?.body, {
      text: deploying.text,
      blocks: [
        { type: 'section', text: { type: 'mrkdwn', text: deploying.text } },
        {
          type: 'context',
          elements: [{ type: 'mrkdwn', text: '*CHG-1234* · deploying · for sre' }],
        },
      ],
    });
  });

  it('fails non-retryably on 4xx without naming the URL', async () => {
    answer = 404;
    const notify = notifierFor({ webhookUrl: url });
    await assert.rejects(activityEnv().run(notify, deploying), (err: unknown) => {
      isNotificationFailure(true, /HTTP 404/)(err);
      assert.ok(!(err as Error).message.includes('s3cret'));
      assert.ok(!(err as Error).message.includes(url));
      return true;
    });
  });

  it('fails retryably on 5xx and on 429', async () => {
    const notify = notifierFor({ webhookUrl: url });
    answer = 503;
    await assert.rejects(activityEnv().run(notify, deploying), isNotificationFailure(false, /503/));
    answer = 429;
    await assert.rejects(activityEnv().run(notify, deploying), isNotificationFailure(false, /429/));
  });

  it('fails retryably when the webhook cannot be reached, without naming the URL', async () => {
    const unreachable = `http://127.0.0.1:${await closedPort()}/hooks/s3cret`;
    const notify = notifierFor({ webhookUrl: unreachable });
    await assert.rejects(activityEnv().run(notify, deploying), (err: unknown) => {
      isNotificationFailure(false, /could not be reached: ECONNREFUSED/)(err);
      assert.ok(!(err as Error).message.includes('s3cret'));
      return true;
    });
  });

  it('gives up on a webhook that does not answer in time', async () => {
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    try {
      const notify = notifierFor({
        webhookUrl: `http://127.0.0.1:${port}/hook`,
        webhookTimeoutMs: 200,
      });
      await assert.rejects(
        activityEnv().run(notify, deploying),
        isNotificationFailure(false, /no answer within 200 ms/),
      );
    } finally {
      silent.closeAllConnections();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('still writes the other sinks when the webhook fails, and dedupes them on retry', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'changectl-notify-'));
    try {
      const file = join(dir, 'n.jsonl');
      const lines: string[] = [];
      const notify = notifierFor({
        log: true,
        logger: (l) => lines.push(l),
        file,
        webhookUrl: url,
      });
      answer = 500;
      await assert.rejects(activityEnv('9').run(notify, deploying), isNotificationFailure(false));
      answer = 200;
      await activityEnv('9').run(notify, deploying);
      assert.equal((await readRecords(file)).length, 1);
      assert.equal(lines.length, 2);
      assert.equal(received.length, 2);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
