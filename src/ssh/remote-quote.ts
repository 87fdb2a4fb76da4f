// A command for the remote login shell, built from argv: sshd hands the command line to the
// user's shell (`sh -c`), so every element is single-quoted and reaches the program intact.

/** `argv` as one POSIX shell command line, each element single-quoted (`'` as `'\''`). */
export function quoteForRemoteShell(argv: readonly string[]): string {
  if (argv.length === 0) throw new Error('quoteForRemoteShell: empty argv');
  return argv.map((arg) => `'${arg.replaceAll("'", "'\\''")}'`).join(' ');
}
