import type { MessageAck } from '../../../workflows/messages';
import type { CliContext } from '../context';

/**
 * What an accepted update prints: what happened, the state now and what is still missing.
 * `extra` goes into the JSON only (the text says it in `done`).
 */
export function printAck(
  ctx: CliContext,
  id: string,
  done: string,
  ack: MessageAck,
  extra: Record<string, string> = {},
): void {
  if (ctx.json) {
    ctx.out.json({ id, ...ack, ...extra });
    return;
  }
  const { colors } = ctx.out;
  ctx.out.line(`${colors.green('✓')} ${colors.bold(id)} ${done}`);
  ctx.out.line(`  state  ${ack.state}`);
  if (ack.summary) ctx.out.line(`  ${ack.summary}`);
}
