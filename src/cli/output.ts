/** Where the CLI writes and what it knows about its terminal; tests hand in their own. */
export interface CliStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface CliIo {
  stdout: CliStream;
  stderr: CliStream;
  env: Record<string, string | undefined>;
}

export interface Colors {
  enabled: boolean;
  bold: (text: string) => string;
  dim: (text: string) => string;
  red: (text: string) => string;
  green: (text: string) => string;
  yellow: (text: string) => string;
  cyan: (text: string) => string;
  inverse: (text: string) => string;
}

/** Colours only for a terminal, and never under NO_COLOR (https://no-color.org: any non-empty value). */
export function colorsFor(stream: CliStream, env: CliIo['env']): Colors {
  const enabled = Boolean(stream.isTTY) && !env.NO_COLOR;
  const sgr =
    (open: number, close: number) =>
    (text: string): string =>
      enabled ? `\u001b[${open}m${text}\u001b[${close}m` : text;
  return {
    enabled,
    bold: sgr(1, 22),
    dim: sgr(2, 22),
    red: sgr(31, 39),
    green: sgr(32, 39),
    yellow: sgr(33, 39),
    cyan: sgr(36, 39),
    inverse: sgr(7, 27),
  };
}

// Terminal escape sequences start with ESC, a control character by definition.
// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*[A-Za-z]/g;

export function visibleLength(text: string): number {
  return text.replace(ANSI, '').length;
}

/** The writer commands print through: lines, JSON, and an erasable progress line on a TTY. */
export class Printer {
  readonly colors: Colors;
  readonly errorColors: Colors;
  private progressShown = false;

  constructor(readonly io: CliIo) {
    this.colors = colorsFor(io.stdout, io.env);
    this.errorColors = colorsFor(io.stderr, io.env);
  }

  get isTTY(): boolean {
    return Boolean(this.io.stdout.isTTY);
  }

  line(text = ''): void {
    this.clearProgress();
    this.io.stdout.write(`${text}\n`);
  }

  lines(texts: string[]): void {
    for (const text of texts) this.line(text);
  }

  json(value: unknown): void {
    this.clearProgress();
    this.io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  /** One JSON document per line, for streams such as `watch --json`. */
  jsonLine(value: unknown): void {
    this.io.stdout.write(`${JSON.stringify(value)}\n`);
  }

  warn(text: string): void {
    this.clearProgress();
    this.io.stderr.write(`${this.errorColors.yellow('warning:')} ${text}\n`);
  }

  error(lines: string[]): void {
    this.clearProgress();
    const [first = '', ...rest] = lines;
    this.io.stderr.write(`${this.errorColors.red('error:')} ${first}\n`);
    for (const line of rest) this.io.stderr.write(`${line}\n`);
  }

  /** Rewrites the progress line in place; does nothing off a terminal. */
  progress(text: string): void {
    if (!this.isTTY) return;
    const width = (this.io.stdout.columns ?? 80) - 1;
    const plain = text.replace(ANSI, '');
    const shown = plain.length > width ? `${plain.slice(0, width - 1)}…` : text;
    this.io.stdout.write(`\r\u001b[2K${shown}`);
    this.progressShown = true;
  }

  clearProgress(): void {
    if (!this.progressShown) return;
    this.io.stdout.write('\r\u001b[2K');
    this.progressShown = false;
  }
}
