/**
 * The control plane's server processes: each runs in its own process group with its output in a
 * log file, and is stopped with its whole group so that nothing it started outlives it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';

export interface ServerProcess {
  name: string;
  child: ChildProcess;
  /** Resolves when the process has exited and its log is flushed. */
  exited: Promise<void>;
  /** Whether it has exited (or never started). */
  hasExited(): boolean;
  /** How it exited, with its last log lines, for error messages. */
  describe(): string;
  /** SIGTERM to the group, SIGKILL after graceMs; resolves when it has exited. */
  stop(graceMs?: number): Promise<void>;
}

export function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

export function startServerProcess(
  name: string,
  command: string,
  args: string[],
  options: { logFile: string; env?: NodeJS.ProcessEnv; cwd?: string },
): ServerProcess {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const tail: string[] = [];
  const log = createWriteStream(options.logFile, { flags: 'a' });
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream }).on('line', (line) => {
      log.write(`${line}\n`);
      tail.push(line);
      if (tail.length > 30) tail.shift();
    });
  }
  let startError: string | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', (err) => {
      startError = `${name} could not be started: ${err.message}`;
      resolve();
    });
  }).then(() => new Promise<void>((resolve) => log.end(() => resolve())));
  const hasExited = (): boolean =>
    startError !== undefined || child.exitCode !== null || child.signalCode !== null;

  let stopping: Promise<void> | undefined;
  return {
    name,
    child,
    exited,
    hasExited,
    describe() {
      if (startError) return startError;
      const how = child.signalCode ? `signal ${child.signalCode}` : `code ${child.exitCode ?? '?'}`;
      const lines = tail.slice(-15).join('\n');
      return `${name} exited (${how})${lines ? `:\n${lines}` : ''}; log: ${options.logFile}`;
    },
    stop(graceMs = 5_000) {
      stopping ??= (async () => {
        const pid = child.pid;
        if (pid === undefined) return;
        if (!hasExited()) {
          killGroup(pid, 'SIGTERM');
          const timer = setTimeout(() => killGroup(pid, 'SIGKILL'), graceMs);
          await exited;
          clearTimeout(timer);
        }
        // Whatever it started itself goes with it.
        killGroup(pid, 'SIGKILL');
        await exited;
      })();
      return stopping;
    },
  };
}
