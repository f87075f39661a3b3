import { setTimeout as delay } from 'node:timers/promises';
import { asyncLocalStorage, type Context } from '@temporalio/activity';
import { isRecord } from '../../src/core/records';

/** What a waiting activity heartbeats; `startedAt` carries its clock across retries. */
export interface WaitProgress {
  /** When the activity's first attempt started (epoch ms). */
  startedAt: number;
  step: string;
  message: string;
}

/**
 * Heartbeats and pauses for an activity that waits on a cluster. Outside an activity (a plain
 * call from a script or test) it keeps the clock and sleeps, and heartbeats go nowhere.
 */
export class Progress {
  readonly startedAt: number;
  private readonly context: Context | undefined = asyncLocalStorage.getStore();

  constructor() {
    const previous: unknown = this.context?.info.heartbeatDetails;
    this.startedAt =
      isRecord(previous) && typeof previous.startedAt === 'number'
        ? previous.startedAt
        : Date.now();
    this.report('start', 'started');
  }

  /** How long the activity has run since its first attempt. */
  elapsedMs(): number {
    return Date.now() - this.startedAt;
  }

  report(step: string, message: string): void {
    const details: WaitProgress = { startedAt: this.startedAt, step, message };
    this.context?.heartbeat(details);
  }

  /** Sleeps between polls; rejects with a CancelledFailure when the activity is cancelled. */
  async pause(ms: number): Promise<void> {
    if (this.context) await this.context.sleep(ms);
    else await delay(ms);
  }
}
