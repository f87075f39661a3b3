import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { invokedCommand } from '../../src/cli/program';

describe('invokedCommand (which command module a run loads)', () => {
  it('finds the command after global options and their values', () => {
    assert.equal(invokedCommand(['status', 'CHG-1']), 'status');
    assert.equal(invokedCommand(['--as', 'bob', '--key', 'k', 'approve', 'CHG-1']), 'approve');
    assert.equal(invokedCommand(['--json', '--address', 'h:1', 'list']), 'list');
    assert.equal(invokedCommand(['--namespace', 'list', 'status', 'X-1']), 'status');
  });

  it('takes the command that help names', () => {
    assert.equal(invokedCommand(['help', 'windows']), 'windows');
    assert.equal(invokedCommand(['--profile', 'p', 'help', 'submit']), 'submit');
  });

  it('names none for bare help, version and option-only runs', () => {
    assert.equal(invokedCommand([]), undefined);
    assert.equal(invokedCommand(['--help']), undefined);
    assert.equal(invokedCommand(['help']), undefined);
    assert.equal(invokedCommand(['--version']), undefined);
    assert.equal(invokedCommand(['--', 'status']), undefined);
  });
});
