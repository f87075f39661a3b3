import type { Command } from 'commander';
import {
  registerSearchAttributes,
  SearchAttributeConflictError,
  type SearchAttributeRegistration,
} from '../../temporal/search-attributes';
import type { CliContext } from '../context';
import { CliError, ExitCode } from '../errors';
import { table } from '../format/text';

export function setupCommand(program: Command, ctx: CliContext): void {
  program
    .command('setup')
    .description("register changectl's search attributes on an existing Temporal namespace")
    .action(async () => {
      const { connection, options } = await ctx.temporal();
      const { namespace } = options;
      let results: SearchAttributeRegistration[];
      try {
        results = await registerSearchAttributes(connection, namespace);
      } catch (err) {
        if (err instanceof SearchAttributeConflictError) {
          throw new CliError(ExitCode.Failed, err.message, err.conflicts);
        }
        throw err;
      }
      if (ctx.json) {
        ctx.out.json({ namespace, searchAttributes: results });
        return;
      }
      ctx.out.line(`search attributes on namespace ${ctx.out.colors.bold(namespace)}:`);
      ctx.out.lines(
        table(
          undefined,
          results.map((r) => [
            r.name,
            r.type,
            r.result === 'registered'
              ? ctx.out.colors.green(r.result)
              : ctx.out.colors.dim(r.result),
          ]),
        ).map((l) => `  ${l}`),
      );
    });
}
