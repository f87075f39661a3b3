import type { SignalDefinition } from '@temporalio/client';
import type { CliContext } from '../context';

/**
 * Signals a running change. Signals are not answered, so the change is looked up first: a
 * missing change is exit 4 and an ended one exit 1, rather than a signal lost in silence.
 */
export async function signalChange<Args extends unknown[]>(
  ctx: CliContext,
  id: string,
  signal: SignalDefinition<Args>,
  args: Args,
  done: string,
): Promise<void> {
  const change = await ctx.runningChange(id);
  await change.handle.signal(signal, ...args);
  if (ctx.json) {
    ctx.out.json({ id, workflowId: change.handle.workflowId, signal: signal.name, sent: true });
    return;
  }
  const { colors } = ctx.out;
  ctx.out.line(`${colors.green('✓')} ${colors.bold(id)}: ${done}`);
  ctx.out.line(colors.dim(`  follow it with: changectl watch ${id}`));
}
