import { Command, Option } from 'commander';
import packageJson from '../../package.json';
import type { CliIo } from './output';
import { CliContext } from './context';
import { ExitCode, reportFailure, type ExitCode as ExitCodeValue } from './errors';
import { approveCommand } from './commands/approve';
import { cancelCommand } from './commands/cancel';
import { diagnoseCommand } from './commands/diagnose';
import { documentCommand } from './commands/document';
import { exportCommand } from './commands/export';
import { extendCommand } from './commands/extend';
import { listCommand } from './commands/list';
import { rejectCommand } from './commands/reject';
import { rescheduleCommand } from './commands/reschedule';
import { rollbackCommand } from './commands/rollback';
import { setupCommand } from './commands/setup';
import { signCommand } from './commands/sign';
import { statusCommand } from './commands/status';
import { submitCommand } from './commands/submit';
import { verifyCommand } from './commands/verify';
import { watchCommand } from './commands/watch';
import { whoamiCommand } from './commands/whoami';
import { windowsCommand } from './commands/windows';

// Inlined by the CLI's build, so the compiled CLI does not look for package.json at run time.
const CLI_VERSION: string = packageJson.version;

/** The `changectl` program over the given streams; one context shared by its commands. */
export function buildProgram(io: CliIo): { program: Command; ctx: CliContext } {
  const program = new Command();
  const ctx = new CliContext(io, program);
  program
    .name('changectl')
    .description('Change control for Kubernetes services, built on Temporal')
    .version(CLI_VERSION)
    .addOption(
      new Option('--as <user>', 'who is acting (default: CHANGECTL_USER, then the OS user)'),
    )
    .option(
      '--key <file>',
      'SSH key that signs your actions: a private key, or its .pub with the key in ssh-agent (default: CHANGECTL_KEY)',
    )
    .option(
      '--address <host:port>',
      'Temporal frontend (default: TEMPORAL_ADDRESS, the profile, localhost:7233)',
    )
    .option(
      '--namespace <namespace>',
      'Temporal namespace (default: TEMPORAL_NAMESPACE, the profile, default)',
    )
    .option('--profile <name>', 'profile of the Temporal config file (temporal.toml)')
    .option('--json', 'print data as JSON')
    .showSuggestionAfterError()
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      outputError: (text, write) => write(ctx.out.errorColors.red(text)),
    });

  for (const register of [
    submitCommand,
    approveCommand,
    rejectCommand,
    statusCommand,
    listCommand,
    watchCommand,
    cancelCommand,
    rollbackCommand,
    extendCommand,
    rescheduleCommand,
    documentCommand,
    windowsCommand,
    diagnoseCommand,
    exportCommand,
    setupCommand,
    whoamiCommand,
    signCommand,
    verifyCommand,
  ]) {
    register(program, ctx);
  }
  return { program, ctx };
}

/**
 * Runs `changectl` with its arguments (without node and the script) and returns the exit code.
 * The one place where errors become exit codes and text.
 */
export async function runCli(args: string[], io: CliIo): Promise<ExitCodeValue> {
  const { program, ctx } = buildProgram(io);
  try {
    await program.parseAsync(args, { from: 'user' });
    return ExitCode.Ok;
  } catch (err) {
    const report = reportFailure(err, { address: ctx.address });
    if (report.lines.length > 0) ctx.out.error(report.lines);
    return report.exitCode;
  } finally {
    await ctx.close();
  }
}
