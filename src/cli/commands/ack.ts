import type { MessageAck } from '../../../workflows/messages';
import type { CliContext } from '../context';

/** What an accepted update prints: what happened, the state now and what is still missing. */
export function printAck(ctx: CliContext, id: string, done: string, ack: MessageAck): void {
  if (ctx.json) {
    ctx.out.json({ id, ...ack });
    return;
  }
  const { colors } = ctx.out;
  ctx.out.line(`${colors.green('✓')} ${colors.bold(id)} ${done}`);
  ctx.out.line(`  state  ${ack.state}`);
  if (ack.summary) ctx.out.line(`  ${ack.summary}`);
}
