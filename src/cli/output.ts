// Writing to the terminal: colour only on a TTY (and never with NO_COLOR), aligned tables,
// and secret placeholders shown as <secret:NAME> everywhere a person or a pipe reads them.
import pc from 'picocolors';
import type { Writable } from 'node:stream';

export interface Output {
  out: Writable;
  err: Writable;
  color: ReturnType<typeof pc.createColors>;
}

export function terminalOutput(): Output {
  const useColor = Boolean(process.stdout.isTTY) && process.env.NO_COLOR === undefined;
  return { out: process.stdout, err: process.stderr, color: pc.createColors(useColor) };
}

export function writeLine(stream: Writable, text = ''): void {
  stream.write(`${text}\n`);
}

const SECRET_PLACEHOLDER = /\$\{secret:([A-Za-z0-9_]+)\}/g;

export function maskSecrets(text: string): string {
  return text.replace(SECRET_PLACEHOLDER, '<secret:$1>');
}

export function toJson(value: unknown): string {
  return JSON.stringify(
    value,
    (_key, item: unknown) => (typeof item === 'string' ? maskSecrets(item) : item),
    2,
  );
}

/** Left-aligned columns separated by two spaces; `paint` styles the header row. */
export function table(rows: string[][], paint: (text: string) => string = (text) => text): string {
  const widths: number[] = [];
  for (const row of rows)
    row.forEach((cell, index) => (widths[index] = Math.max(widths[index] ?? 0, cell.length)));
  return rows
    .map((row, rowIndex) => {
      const line = row
        .map((cell, index) => (index === row.length - 1 ? cell : cell.padEnd(widths[index] ?? 0)))
        .join('  ');
      return '  ' + (rowIndex === 0 ? paint(line) : line);
    })
    .join('\n');
}
