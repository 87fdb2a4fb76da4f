// Where a Node app listens, read from what the project says: a `--port 4000` in its start
// command, `PORT=4000` before it, or in its entry file `process.env.PORT || 4000` (the
// app takes its port from PORT, so every replica can get its own) or `.listen(4000)` (a
// fixed port). A guess is never invented: nothing found is said as such.

export interface PortFinding {
  port?: number;
  /** The app reads PORT from its environment: `env: { PORT: ${port} }` gives each replica its own. */
  readsEnv: boolean;
  /** Index of the port's word in the command, when the command passes it (`--port 4000`). */
  argIndex?: number;
  /** Where it was found, said in the output and the comment: `server.js:12`. */
  source?: string;
}

const PORT_FLAGS = new Set(['--port', '-p', '--listen']);

function portNumber(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d{1,5}$/.test(text)) return undefined;
  const port = Number(text);
  return port >= 1 && port <= 65535 ? port : undefined;
}

/** A port passed on the command line: `--port 4000`, `--port=4000`, `-p 4000`. */
export function portInArgs(words: readonly string[], label: string): PortFinding | undefined {
  for (const [index, word] of words.entries()) {
    const [flag, inline] = word.split('=', 2) as [string, string | undefined];
    if (!PORT_FLAGS.has(flag)) continue;
    const argIndex = inline === undefined ? index + 1 : index;
    const port = portNumber(inline ?? words[index + 1]);
    if (port !== undefined) return { port, readsEnv: false, argIndex, source: label };
  }
  return undefined;
}

const ENV_PORT = /process\.env(?:\.PORT\b|\[\s*['"]PORT['"]\s*\])/;
const ENV_DEFAULT =
  /process\.env(?:\.PORT\b|\[\s*['"]PORT['"]\s*\])[^\n;]{0,24}?(?:\|\||\?\?)\s*['"]?(\d{1,5})\b/;
const LISTEN = /\.listen\(\s*(?:\{\s*port:\s*)?(\d{1,5})\b/;

function lineOf(text: string, index: number): number {
  return text.slice(0, index).split('\n').length;
}

/** What a source file says about its port; undefined when it says nothing. */
export function portInSource(text: string, file: string): PortFinding | undefined {
  const withDefault = ENV_DEFAULT.exec(text);
  if (withDefault) {
    const port = portNumber(withDefault[1]);
    const finding: PortFinding = {
      readsEnv: true,
      source: `${file}:${lineOf(text, withDefault.index)}`,
    };
    if (port !== undefined) finding.port = port;
    return finding;
  }
  const listen = LISTEN.exec(text);
  const env = ENV_PORT.exec(text);
  if (env) {
    const finding: PortFinding = { readsEnv: true, source: `${file}:${lineOf(text, env.index)}` };
    const port = portNumber(listen?.[1]);
    if (port !== undefined) finding.port = port;
    return finding;
  }
  const port = portNumber(listen?.[1]);
  if (listen && port !== undefined)
    return { port, readsEnv: false, source: `${file}:${lineOf(text, listen.index)}` };
  return undefined;
}
