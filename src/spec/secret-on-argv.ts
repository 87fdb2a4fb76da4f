// Why `${secret:NAME}` may not appear in a command the stack file gives a program (a
// process's run.command, a container's command, an exec health check, a backup command):
// on Linux every local user reads every process's arguments (`ps`, /proc/<pid>/cmdline),
// so the secret would be theirs too. A process's environment and its secret files are not
// readable by other users: each hint says which of them reaches the program there.

/** Where a command line comes from in the stack file. */
export type CommandLine = 'process' | 'container' | 'health' | 'backup';

export function secretOnCommandLine(
  where: CommandLine,
  secret: string,
): [message: string, hint: string] {
  const message = `secret ${secret} would be on a command line, which every local user can read (ps, /proc/<pid>/cmdline)`;
  const viaEnv = `put it in \`env\` (env: { ${secret}: '\${secret:${secret}}' }) and have the program read ${secret} from its environment (Flotilla does not expand $${secret} in a command, and a \`sh -c\` that does would put it back on a command line)`;
  switch (where) {
    case 'process':
      return [
        message,
        `${viaEnv}, or list it in \`secret_files: [${secret}]\`: the program then finds the path of a file holding it in ${secret}_FILE`,
      ];
    case 'container':
      return [message, viaEnv];
    case 'health':
      return [
        message,
        `the check runs with the service's environment and secret files: ${viaEnv}, e.g. psql reads PGPASSWORD and redis-cli REDISCLI_AUTH`,
      ];
    case 'backup':
      return [
        message,
        'a backup command runs with PATH and HOME only: have it read the secret from a file only root can read, or use a postgres, redis or files backup',
      ];
  }
}
