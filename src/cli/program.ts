import { Command, Option } from 'commander';
import packageJson from '../../package.json';
import type { CliIo } from './output';
import { CliContext } from './context';
import { ExitCode, reportFailure, type ExitCode as ExitCodeValue } from './errors';

// Inlined by the CLI's build, so the compiled CLI does not look for package.json at run time.
const CLI_VERSION: string = packageJson.version;

type CommandRegistration = (program: Command, ctx: CliContext) => void;

/**
 * Every command, loaded only when it runs: `changectl windows` never loads the Temporal client,
 * and no command pays for the others' dependencies. In the order `--help` lists them.
 */
const commandLoaders: Record<string, () => Promise<CommandRegistration>> = {
  submit: async () => (await import('./commands/submit')).submitCommand,
  approve: async () => (await import('./commands/approve')).approveCommand,
  reject: async () => (await import('./commands/reject')).rejectCommand,
  status: async () => (await import('./commands/status')).statusCommand,
  list: async () => (await import('./commands/list')).listCommand,
  watch: async () => (await import('./commands/watch')).watchCommand,
  cancel: async () => (await import('./commands/cancel')).cancelCommand,
  rollback: async () => (await import('./commands/rollback')).rollbackCommand,
  extend: async () => (await import('./commands/extend')).extendCommand,
  reschedule: async () => (await import('./commands/reschedule')).rescheduleCommand,
  document: async () => (await import('./commands/document')).documentCommand,
  windows: async () => (await import('./commands/windows')).windowsCommand,
  diagnose: async () => (await import('./commands/diagnose')).diagnoseCommand,
  drift: async () => (await import('./commands/drift')).driftCommand,
  report: async () => (await import('./commands/report')).reportCommand,
  export: async () => (await import('./commands/export')).exportCommand,
  setup: async () => (await import('./commands/setup')).setupCommand,
  whoami: async () => (await import('./commands/whoami')).whoamiCommand,
  sign: async () => (await import('./commands/sign')).signCommand,
  verify: async () => (await import('./commands/verify')).verifyCommand,
};

/** Global options that take a value, so the word after them is not the command. */
const globalOptionsWithValue = new Set(['--as', '--key', '--address', '--namespace', '--profile']);

/** The command the arguments name (`help <command>` names that one), if any. */
export function invokedCommand(args: readonly string[]): string | undefined {
  const words: string[] = [];
  for (let i = 0; i < args.length && words.length < 2; i++) {
    const arg = args[i]!;
    if (arg === '--') break;
    if (arg.startsWith('-')) {
      if (globalOptionsWithValue.has(arg)) i++;
      continue;
    }
    words.push(arg);
    if (arg !== 'help') break;
  }
  const [first, second] = words;
  return first === 'help' ? second : first;
}

/** The registrations a run needs: the invoked command's alone, or all (help, unknown words). */
async function registrationsFor(args: readonly string[]): Promise<CommandRegistration[]> {
  const name = invokedCommand(args);
  if (name === undefined && (args.includes('--version') || args.includes('-V'))) return [];
  const loaders =
    name !== undefined && Object.hasOwn(commandLoaders, name)
      ? [commandLoaders[name]!]
      : Object.values(commandLoaders);
  return Promise.all(loaders.map((load) => load()));
}

/** The `changectl` program over the given streams; one context shared by its commands. */
export function buildProgram(
  io: CliIo,
  registers: readonly CommandRegistration[],
): { program: Command; ctx: CliContext } {
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

  for (const register of registers) register(program, ctx);
  return { program, ctx };
}

/**
 * Runs `changectl` with its arguments (without node and the script) and returns the exit code.
 * The one place where errors become exit codes and text.
 */
export async function runCli(args: string[], io: CliIo): Promise<ExitCodeValue> {
  const { program, ctx } = buildProgram(io, await registrationsFor(args));
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
