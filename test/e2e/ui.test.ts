import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { startDevStack, type DevStack } from '../../src/stack/devstack';
import { projectRoot } from '../../src/stack/tools';
import { uniqueChangeId } from '../helpers/temporal';
import {
  actingAs,
  changeRequest,
  changectl,
  cliEnv,
  shown,
  writePolicy,
  writeRequest,
} from './harness';

const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

describe('the Temporal UI of the dev stack', () => {
  let stack: DevStack | undefined;
  let browser: Browser | undefined;
  let dir: string;

  before(
    async () => {
      dir = await mkdtemp(join(tmpdir(), 'changectl-e2e-ui-'));
      stack = await startDevStack({
        stateDir: join(dir, 'state'),
        policyPath: await writePolicy(dir),
        log: () => undefined,
      });
      browser = await chromium.launch({
        executablePath: '/usr/bin/chromium',
        headless: true,
        args: CHROMIUM_FLAGS,
      });
    },
    { timeout: 180_000 },
  );

  after(async () => {
    await browser?.close();
    await stack?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('finds a submitted change by ChangeId, with its state, and saves a screenshot', async () => {
    assert.ok(stack && browser);
    const env = cliEnv(stack.env);
    const id = uniqueChangeId('CHG');
    const file = await writeRequest(
      dir,
      changeRequest({ id, service: 'api-gateway', tag: '2.5.0' }),
    );
    const submitted = await changectl(['submit', file], actingAs(stack, env, 'alice'));
    assert.equal(submitted.code, 0, shown(submitted));
    assert.match(
      submitted.stdout,
      new RegExp(`ui +${stack.uiUrl}/namespaces/default/workflows/change-${id}/`),
    );

    const query = `ChangeId="${id}"`;
    const artifacts = join(projectRoot, 'test-artifacts');
    await mkdir(artifacts, { recursive: true });
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    try {
      const url = `${stack.uiUrl}/namespaces/default/workflows?query=${encodeURIComponent(query)}`;
      const workflowId = `change-${id}`;
      const row = page.getByRole('row').filter({ hasText: workflowId });
      const deadline = Date.now() + 60_000;
      // Visibility is eventually consistent: reload until the run is listed.
      for (;;) {
        await page.goto(url, { waitUntil: 'domcontentloaded' });
        try {
          await row.first().waitFor({ state: 'visible', timeout: 5_000 });
          break;
        } catch (err) {
          if (Date.now() > deadline) throw err;
        }
      }
      const text = await row.first().innerText();
      assert.match(text, /running/i);
      assert.match(text, /plannedChange/);

      // The run's own page lists its search attributes: the change's state among them.
      await row.first().getByRole('link', { name: workflowId }).first().click();
      await page.getByText('Search Attributes', { exact: true }).first().click();
      await page
        .getByText(/"ChangeState": "awaiting-approval"/)
        .first()
        .waitFor({ state: 'visible', timeout: 30_000 });
      await page.screenshot({ path: join(artifacts, `ui-${id}-search-attributes.png`) });
      await page.goto(url, { waitUntil: 'domcontentloaded' });
      await row.first().waitFor({ state: 'visible', timeout: 30_000 });

      const screenshot = join(artifacts, `ui-${id}.png`);
      await page.screenshot({ path: screenshot, fullPage: true });
      assert.ok((await stat(screenshot)).size > 10_000, 'the screenshot has content');
    } finally {
      await page.close();
    }
  });
});
