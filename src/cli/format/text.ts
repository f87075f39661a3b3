import { formatDuration } from '../../core/change/duration';
import { visibleLength } from '../output';

/** `2026-12-01 02:00:13Z`: ISO time, readable, always UTC so that everyone reads the same. */
export function formatTime(iso: string | Date | undefined): string {
  if (iso === undefined) return '-';
  const date = typeof iso === 'string' ? new Date(iso) : iso;
  if (Number.isNaN(date.getTime())) return String(iso);
  return date
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d{3}Z$/, 'Z');
}

/** `in 2h5m` / `5m ago`, to the second below a minute and to the minute above an hour. */
export function relativeTime(iso: string | Date | undefined, now: Date): string {
  if (iso === undefined) return '';
  const at = typeof iso === 'string' ? Date.parse(iso) : iso.getTime();
  if (Number.isNaN(at)) return '';
  const delta = at - now.getTime();
  const abs = Math.abs(delta);
  const rounded =
    abs >= 3_600_000 ? Math.round(abs / 60_000) * 60_000 : Math.round(abs / 1_000) * 1_000;
  if (rounded === 0) return 'now';
  return delta > 0 ? `in ${formatDuration(rounded)}` : `${formatDuration(rounded)} ago`;
}

/** A time with its distance from now: `2026-12-01 02:00:13Z (in 2h5m)`. */
export function formatTimeFrom(iso: string | undefined, now: Date): string {
  if (iso === undefined) return '-';
  const relative = relativeTime(iso, now);
  return relative ? `${formatTime(iso)} (${relative})` : formatTime(iso);
}

function pad(text: string, width: number): string {
  return text + ' '.repeat(Math.max(0, width - visibleLength(text)));
}

/** Columns padded to their widest cell, two spaces apart; the last column is not padded. */
export function table(header: string[] | undefined, rows: string[][]): string[] {
  const all = header ? [header, ...rows] : rows;
  const columns = Math.max(0, ...all.map((r) => r.length));
  const widths = Array.from({ length: columns }, (_, c) =>
    Math.max(0, ...all.map((r) => visibleLength(r[c] ?? ''))),
  );
  return all.map((row) =>
    row
      .map((cell, c) => (c === row.length - 1 ? cell : pad(cell, widths[c] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}

/** Label/value lines with the labels aligned. */
export function fields(entries: [string, string][], minWidth = 0): string[] {
  const width = Math.max(minWidth, ...entries.map(([label]) => label.length));
  return entries.map(([label, value]) => `${pad(label, width)}  ${value}`);
}

export function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}

export function formatValue(value: number | null | undefined): string {
  if (value === null || value === undefined) return 'no data';
  if (Number.isInteger(value)) return String(value);
  return Math.abs(value) >= 100 ? value.toFixed(1) : value.toPrecision(3);
}
