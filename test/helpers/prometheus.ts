import { createPrometheusClient, resultValues } from '../../src/prometheus/api';
import {
  startPrometheus,
  waitForTargetsUp,
  type PrometheusServer,
} from '../../src/stack/prometheus';

export interface TestPrometheus extends PrometheusServer {
  /** The first value of an instant query, or null when there is none (or Prometheus is down). */
  value(query: string): Promise<number | null>;
}

/**
 * A real Prometheus on 127.0.0.1 (free port, temporary storage) scraping the given targets
 * every second, resolved once it is ready and every target has been scraped. `stop()` kills it
 * and removes its files.
 */
export async function startTestPrometheus(options: {
  targets: string[];
  rules?: string;
  scrapeIntervalMs?: number;
}): Promise<TestPrometheus> {
  const server = await startPrometheus({
    targets: options.targets,
    scrapeIntervalMs: options.scrapeIntervalMs ?? 1_000,
    ...(options.rules === undefined ? {} : { rules: options.rules }),
  });
  try {
    await waitForTargetsUp(server.url, options.targets.length);
  } catch (error) {
    await server.stop();
    throw error;
  }
  const client = createPrometheusClient({ url: server.url, timeoutMs: 2_000 });
  return {
    ...server,
    async value(query) {
      try {
        const values = resultValues(await client.instantQuery(query));
        return values.find((v) => !Number.isNaN(v)) ?? null;
      } catch {
        return null;
      }
    },
  };
}

/** Polls until `check` returns a value other than undefined, or fails after `timeoutMs`. */
export async function waitUntil<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 20_000,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await check();
    if (result !== undefined) return result;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
