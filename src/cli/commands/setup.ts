import type { Command } from 'commander';
import { SearchAttributeType } from '@temporalio/common';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes.js';
import type { FieldIssue } from '../../core/change/validation';
import { changeSearchAttributes } from '../../core/search-attributes';
import type { CliContext } from '../context';
import { CliError, ExitCode } from '../errors';
import { table } from '../format/text';

function indexedValueType(type: SearchAttributeType): number {
  return Number(encodeSearchAttributeIndexedValueType(type));
}

/** The SDK's name of each indexed value type number, for messages about conflicts. */
const TYPE_NAME: Record<number, string> = Object.fromEntries(
  Object.values(SearchAttributeType).map((type) => [indexedValueType(type), type]),
);

export interface SearchAttributeSetup {
  name: string;
  type: SearchAttributeType;
  result: 'registered' | 'already registered';
}

export function setupCommand(program: Command, ctx: CliContext): void {
  program
    .command('setup')
    .description("register changectl's search attributes on an existing Temporal namespace")
    .action(async () => {
      const { connection, options } = await ctx.temporal();
      const { namespace } = options;
      const existing = await connection.operatorService.listSearchAttributes({ namespace });
      const registered = { ...existing.customAttributes, ...existing.systemAttributes };
      const results: SearchAttributeSetup[] = [];
      const missing: Record<string, number> = {};
      const conflicts: FieldIssue[] = [];
      for (const key of changeSearchAttributes) {
        const wanted = indexedValueType(key.type);
        const current = registered[key.name];
        if (current === undefined || current === null) {
          missing[key.name] = wanted;
          results.push({ name: key.name, type: key.type, result: 'registered' });
        } else if (Number(current) !== wanted) {
          conflicts.push({
            path: key.name,
            message: `registered as ${TYPE_NAME[Number(current)] ?? String(current)}, changectl needs ${key.type}`,
          });
        } else {
          results.push({ name: key.name, type: key.type, result: 'already registered' });
        }
      }
      if (conflicts.length > 0) {
        throw new CliError(
          ExitCode.Failed,
          `search attributes on namespace ${namespace} conflict with changectl's:`,
          conflicts,
        );
      }
      if (Object.keys(missing).length > 0) {
        await connection.operatorService.addSearchAttributes({
          namespace,
          searchAttributes: missing,
        });
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
