import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { startSimulator } from '../../src/stack/simulator';
import { deploymentsRolledOut } from '../../src/stack/cluster/index';
import { eventually, namespaceFor } from '../helpers/cluster';

function counters(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^(\w+)\{([^}]*)\} (\S+)$/.exec(line);
    if (match) values.set(`${match[1]}{${match[2]}}`, Number(match[3]));
  }
  return values;
}

void describe('application simulator', () => {
  void it('shapes a service by the images of its Ready pods, through a rollout and back', async (t) => {
    const { namespace, kubeConfig, apps } = await namespaceFor(t);
    const simulator = await startSimulator(kubeConfig);
    t.after(() => simulator.stop());
    const labels = `service="api-gateway",namespace="${namespace}"`;
    const scrape = async () => counters(await (await fetch(simulator.metricsUrl)).text());
    const errorRatioOver = async (ms: number): Promise<number> => {
      const a = await scrape();
      await delay(ms);
      const b = await scrape();
      const of = (m: Map<string, number>, code: string) =>
        m.get(`http_requests_total{${labels},code="${code}"}`) ?? NaN;
      const errors = of(b, '500') - of(a, '500');
      const total = errors + of(b, '200') - of(a, '200');
      assert.ok(total >= 50, `traffic flowed (${total} requests)`);
      return errors / total;
    };
    const setImage = async (image: string) => {
      await apps.patchNamespacedDeployment(
        {
          namespace,
          name: 'api-gateway',
          body: { spec: { template: { spec: { containers: [{ name: 'api-gateway', image }] } } } },
        },
        setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
      );
      await delay(200);
      await eventually('the rollout', async () =>
        (await deploymentsRolledOut(kubeConfig, namespace)) ? true : undefined,
      );
    };

    // The simulator sees pods through its informers, a moment after the API server says the
    // rollout is done: the ratio is read over 1.5 s windows until one holds the new pods only.
    const ratioSettles = async (what: string, fits: (ratio: number) => boolean) => {
      let last = NaN;
      await eventually(
        `${what} (last ratio ${last})`,
        async () => {
          last = await errorRatioOver(1_500);
          return fits(last) ? last : undefined;
        },
        20_000,
      ).catch((err: unknown) => {
        assert.fail(`${what}: the 5xx ratio was ${last}; ${String(err)}`);
      });
    };

    await ratioSettles('the seeded image is healthy', (r) => r < 0.01);
    await setImage('registry.example.com/api-gateway:2.5.0-erroring');
    await ratioSettles('about 8% 5xx once the erroring pods serve', (r) => r > 0.07 && r < 0.09);
    await setImage('registry.example.com/api-gateway:2.4.3');
    await ratioSettles('healthy again after the rollback', (r) => r < 0.01);

    const text = await (await fetch(simulator.metricsUrl)).text();
    assert.match(text, /^# TYPE http_request_duration_seconds histogram$/m);
    assert.match(
      text,
      new RegExp(
        `^http_request_duration_seconds_bucket\\{service="auth-service",namespace="${namespace}",le="0\\.1"\\} \\d+$`,
        'm',
      ),
    );
  });
});
