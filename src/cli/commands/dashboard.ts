// `flotilla dashboard user add|rm|list`: who may log in to the dashboard, with which scope.
// The password is read from stdin (typed without echo on a terminal, twice), never from
// argv, where `ps` and the shell history would keep it. The users file is written here
// directly; a running hub sees the change at its next request (dashboard-users.ts says why).
import { httpsOrigin } from '../../plan/https-origin.ts';
import { spawnSync } from 'node:child_process';
import { SCOPES, type Scope } from '../../hub/api/api-route.ts';
import {
  DashboardUserError,
  DashboardUsers,
  nameTaken,
  userNameSchema,
} from '../../hub/dashboard/dashboard-users.ts';
import { PrivateJsonError } from '../../state/private-json.ts';
import { loadStackOrReport } from '../stack-file.ts';
import { table, toJson, writeLine, type Output } from '../output.ts';
import type { CommandSpec } from '../command.ts';
import { UsageError } from '../usage.ts';

const USAGE = `flotilla dashboard user add NAME [--scope read|operate|admin]   (the password is read from stdin)
       flotilla dashboard user rm NAME
       flotilla dashboard user list [--json]`;

/** Said to whoever typed a password after `user add NAME`: it is exposed already. */
const PASSWORD_ON_ARGV =
  'the password is read from stdin, never from the command line: flotilla dashboard user add NAME, then type it (or pipe it in). Nothing was stored. What you typed is in your shell history and was visible to every local user in `ps`: remove it from the history and pick another password';

/** Standard input to its end, less the one newline `echo` or a typed Enter adds. */
async function readAll(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/** One line from the terminal with echo off (stty), so the password is not on screen. */
async function readHidden(prompt: string, output: Output): Promise<string> {
  const stty = (setting: string) =>
    spawnSync('stty', [setting], { stdio: ['inherit', 'ignore', 'ignore'] });
  output.err.write(prompt);
  stty('-echo');
  try {
    const line = await new Promise<string>((resolve) => {
      let text = '';
      const onData = (chunk: Buffer) => {
        text += chunk.toString('utf8');
        if (!text.includes('\n')) return;
        process.stdin.off('data', onData);
        process.stdin.pause();
        resolve(text.slice(0, text.indexOf('\n')).replace(/\r$/, ''));
      };
      process.stdin.on('data', onData);
      // Paused by the read before (the second prompt): a listener alone does not resume it.
      process.stdin.resume();
    });
    return line;
  } finally {
    stty('echo');
    output.err.write('\n');
  }
}

async function readPassword(name: string, output: Output): Promise<string> {
  if (!process.stdin.isTTY) return readAll();
  const password = await readHidden(`password for ${name} (not shown): `, output);
  const again = await readHidden('the same again: ', output);
  if (password !== again)
    throw new DashboardUserError(
      'the two passwords differ',
      'run the command again and type the same password twice',
    );
  return password;
}

function checkScope(scope: string): Scope {
  if ((SCOPES as readonly string[]).includes(scope)) return scope as Scope;
  throw new UsageError(
    `unknown --scope ${scope}`,
    `one of ${SCOPES.join(', ')}: read sees, operate also restarts and runs backups, admin may do everything`,
  );
}

function checkName(name: string): string {
  const parsed = userNameSchema.safeParse(name);
  if (parsed.success) return parsed.data;
  throw new UsageError(`"${name}" is no user name`, parsed.error.issues[0]!.message);
}

type Verb = 'add' | 'rm' | 'list';

export const dashboardCommand: CommandSpec = {
  usage: USAGE,
  options: {
    file: { type: 'string', short: 'f' },
    scope: { type: 'string' },
    json: { type: 'boolean' },
  },
  positionals: {
    verbs: {
      user: {
        verbs: {
          add: { words: ['NAME'], secretExtra: PASSWORD_ON_ARGV },
          rm: ['NAME'],
          list: [],
        },
      },
    },
  },
  async run({ values, positionals }, output: Output) {
    // main checked the words against `positionals` above.
    const [, verb, argument] = positionals as ['user', Verb, string?];
    if (values.scope !== undefined && verb !== 'add')
      throw new UsageError(
        '--scope is for `user add`',
        'to change a scope: user rm NAME, then user add NAME --scope SCOPE',
      );
    const scope = checkScope((values.scope as string | undefined) ?? 'read');
    const name = argument === undefined ? undefined : checkName(argument);
    const loaded = await loadStackOrReport(values.file as string | undefined, output, {
      secrets: 'skip',
    });
    if (!loaded) return 1;
    try {
      const users = await DashboardUsers.open(loaded.stateDir);
      switch (verb) {
        case 'add': {
          // Before the password is asked for, not after it was typed twice.
          if ((await users.find(name!)) !== undefined) throw nameTaken(name!);
          const user = await users.add(name!, scope, await readPassword(name!, output));
          const dashboard = loaded.stack.dashboard;
          const origin = dashboard && httpsOrigin(dashboard.host, loaded.stack.gateway.https_port);
          writeLine(
            output.out,
            `${user.name} added (${user.scope})${origin === undefined ? '' : `: they log in at ${origin}/`}`,
          );
          return 0;
        }
        case 'rm': {
          if (!(await users.remove(name!)))
            throw new DashboardUserError(
              `no dashboard user named ${name}`,
              'flotilla dashboard user list shows who there is',
            );
          writeLine(output.out, `${name} removed; their sessions end at their next request`);
          return 0;
        }
        case 'list': {
          const list = await users.list();
          if (values.json) writeLine(output.out, toJson(list));
          else
            writeLine(
              output.out,
              list.length === 0
                ? 'no dashboard users yet: flotilla dashboard user add NAME --scope admin'
                : table(
                    [
                      ['NAME', 'SCOPE', 'ADDED'],
                      ...list.map((user) => [
                        user.name,
                        user.scope,
                        new Date(user.created_at).toISOString(),
                      ]),
                    ],
                    output.color.dim,
                  ),
            );
          return 0;
        }
      }
    } catch (error) {
      if (error instanceof PrivateJsonError) {
        writeLine(output.err, `flotilla dashboard user ${verb}: ${error.message}`);
        return 1;
      }
      if (!(error instanceof DashboardUserError)) throw error;
      writeLine(output.err, `flotilla dashboard user ${verb}: ${error.message}`);
      writeLine(output.err, `hint: ${error.hint}`);
      return 1;
    }
  },
};
