import { appendFile, open } from 'node:fs/promises';
import { Context, log } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Notification, NotificationActivities } from '../src/core/contracts';
import { FailureType } from '../src/core/errors';
import { notificationLogLine, slackMessage } from '../src/core/lifecycle/messages';

export interface NotificationSinks {
  /** One line per message in the worker's log. */
  log?: boolean;
  /** A webhook that takes Slack-style JSON (`{text, blocks}`), e.g. a Slack incoming webhook. */
  webhookUrl?: string;
  /** A file that gets one JSON line per message. */
  file?: string;
  /** Where log lines go instead of the activity logger. */
  logger?: (line: string) => void;
  /** How long the webhook may take to answer. */
  webhookTimeoutMs?: number;
}

/** One line of the notification file. */
export interface NotificationRecord {
  /** Same on every attempt of one activity, so that a retry does not record a message twice. */
  id: string;
  at: string;
  kind: Notification['kind'];
  changeId: string;
  text: string;
  audience?: string[];
}

export const DEFAULT_WEBHOOK_TIMEOUT_MS = 10_000;
/** How much of the file's end is searched for an earlier attempt's line. */
const FILE_TAIL_BYTES = 256 * 1024;

function notificationId(): string {
  const { workflowExecution: run, activityId, scheduledTimestampMs } = Context.current().info;
  // The run id too: activity ids start again at 1 in each run after continue-as-new.
  if (run) return `${run.workflowId}/${run.runId}/${activityId}`;
  return `${activityId}@${scheduledTimestampMs}`;
}

async function postToWebhook(url: string, body: unknown, timeoutMs: number): Promise<void> {
  const cancellation = Context.current().cancellationSignal;
  const signal = AbortSignal.any([AbortSignal.timeout(timeoutMs), cancellation]);
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal,
    });
  } catch (err) {
    if (cancellation.aborted) throw err;
    // The URL is a secret (a Slack webhook's path is its credential): name only the cause.
    const cause = (err as { cause?: { code?: unknown } }).cause?.code;
    const reason =
      err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')
        ? `no answer within ${timeoutMs} ms`
        : typeof cause === 'string'
          ? cause
          : 'network error';
    throw ApplicationFailure.retryable(
      `the notification webhook could not be reached: ${reason}`,
      FailureType.NotificationFailed,
    );
  }
  // Drain the body so that the connection is released; its text is not needed.
  await response.arrayBuffer().catch(() => undefined);
  if (response.ok) return;
  const message = `the notification webhook answered HTTP ${response.status}`;
  // 408 and 429 say "later", not "never".
  if (response.status >= 400 && response.status < 500 && ![408, 429].includes(response.status)) {
    throw ApplicationFailure.nonRetryable(message, FailureType.NotificationFailed);
  }
  throw ApplicationFailure.retryable(message, FailureType.NotificationFailed);
}

async function fileTail(path: string): Promise<string> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw err;
  }
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, FILE_TAIL_BYTES);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    return buffer.toString('utf8');
  } finally {
    await handle.close();
  }
}

async function appendRecord(path: string, record: NotificationRecord): Promise<void> {
  const tail = await fileTail(path);
  const idField = `"id":${JSON.stringify(record.id)}`;
  if (tail.split('\n').some((line) => line.includes(idField))) return;
  await appendFile(path, `${JSON.stringify(record)}\n`, 'utf8');
}

/**
 * Notifications to every configured sink. Each sink is tried even when another fails; then the
 * first failure is raised, retryable unless every failure is permanent (a webhook's 4xx).
 */
export function createNotificationActivities(sinks: NotificationSinks): NotificationActivities {
  const webhookTimeoutMs = sinks.webhookTimeoutMs ?? DEFAULT_WEBHOOK_TIMEOUT_MS;
  return {
    async notify(notification: Notification): Promise<void> {
      const failures: unknown[] = [];
      if (sinks.log) {
        const line = notificationLogLine(notification);
        if (sinks.logger) sinks.logger(line);
        else log.info(line);
      }
      if (sinks.file) {
        const record: NotificationRecord = {
          id: notificationId(),
          at: new Date().toISOString(),
          kind: notification.kind,
          changeId: notification.changeId,
          text: notification.text,
          ...(notification.audience ? { audience: notification.audience } : {}),
        };
        try {
          await appendRecord(sinks.file, record);
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code ?? String(err);
          failures.push(
            ApplicationFailure.retryable(
              `the notification file ${sinks.file} cannot be written (${code})`,
              FailureType.NotificationFailed,
            ),
          );
        }
      }
      if (sinks.webhookUrl) {
        try {
          await postToWebhook(sinks.webhookUrl, slackMessage(notification), webhookTimeoutMs);
        } catch (err) {
          failures.push(err);
        }
      }
      if (failures.length === 0) return;
      const retryable = failures.find((f) => !(f instanceof ApplicationFailure && f.nonRetryable));
      throw retryable ?? failures[0];
    },
  };
}
