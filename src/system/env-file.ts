// Parses `.env` files (KEY=value, optional `export`, quotes, comments) for a service's
// `env_files`. Only the file's own variables: nothing is expanded from the agent's env.

const LINE = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/;

export class EnvFileError extends Error {}

export function parseEnvFile(text: string, file: string): Record<string, string> {
  // No prototype: a line `__proto__=x` is a variable like any other, not a silent no-op.
  const result: Record<string, string> = Object.create(null) as Record<string, string>;
  text.split(/\r?\n/).forEach((line, index) => {
    if (/^\s*(#|$)/.test(line)) return;
    const match = LINE.exec(line);
    if (!match) throw new EnvFileError(`${file}:${index + 1}: expected KEY=value`);
    result[match[1]!] = unquote(match[2]!);
  });
  return result;
}

function unquote(raw: string): string {
  if (raw.startsWith('"') && raw.endsWith('"') && raw.length >= 2) {
    return raw
      .slice(1, -1)
      .replace(
        /\\([nrt"\\])/g,
        (_match, char: string) => ({ n: '\n', r: '\r', t: '\t' })[char] ?? char,
      );
  }
  if (raw.startsWith("'") && raw.endsWith("'") && raw.length >= 2) return raw.slice(1, -1);
  // An unquoted value ends at an inline comment.
  return raw.replace(/\s+#.*$/, '');
}
