import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseUiPort } from '../../src/stack/devstack';

describe('--ui-port of npm run dev and npm run demo', () => {
  it('is optional and takes a port number', () => {
    assert.deepEqual(parseUiPort(undefined), {});
    assert.deepEqual(parseUiPort('8233'), { port: 8233 });
  });

  it('names the flag and the value when it is not a port', () => {
    for (const raw of ['abc', '0', '65536', '80.5', '']) {
      assert.deepEqual(parseUiPort(raw), {
        error: `--ui-port expects a port number, got ${JSON.stringify(raw)}`,
      });
    }
  });
});
