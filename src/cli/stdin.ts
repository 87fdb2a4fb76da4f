// A value piped to the CLI (a secret, a join token): read whole, so it never has to be in argv.

/** All of stdin as text, without the one trailing newline `echo value |` adds. */
export async function readStdin(): Promise<string> {
  let text = '';
  process.stdin.setEncoding('utf8');
  for await (const chunk of process.stdin) text += chunk as string;
  return text.replace(/\r?\n$/, '');
}
