// The `flotilla` command: dispatch to one file per command. User mistakes get a message
// and a hint, never a stack trace; exit 1 for invalid input, 2 for bad usage.
import { parseArgs } from 'node:util';
import type { CommandEntry } from './command.ts';
import { terminalOutput, writeLine, type Output } from './output.ts';
import { checkPositionals, UsageError } from './usage.ts';
import { didYouMean } from '../spec/suggest.ts';

// Loaded lazily: `flotilla validate` need not import the daemon, the bus and the agent.
const COMMANDS: CommandEntry[] = [
  {
    name: 'validate',
    summary: 'check a stack file and report every problem with file:line:col',
    load: async () => (await import('./commands/validate.ts')).validateCommand,
  },
  {
    name: 'plan',
    summary: 'show what would run where: placement, order, routes, firewall, reachability, cost',
    load: async () => (await import('./commands/plan.ts')).planCommand,
  },
  {
    name: 'import',
    summary: 'turn a docker-compose.yml or a PM2 ecosystem file into a stack file',
    load: async () => (await import('./commands/import.ts')).importCommand,
  },
  {
    name: 'init',
    summary: 'write a commented flotilla.yml from package.json, docker-compose.yml or PM2',
    load: async () => (await import('./commands/init.ts')).initCommand,
  },
  {
    name: 'up',
    summary: 'bring the stack up on this machine (again: apply changes)',
    load: async () => (await import('./commands/up.ts')).upCommand,
  },
  {
    name: 'status',
    summary: 'show services and instances: node, state, health, uptime, restarts, URLs',
    load: async () => (await import('./commands/status.ts')).statusCommand,
  },
  {
    name: 'logs',
    summary: "print a service's logs (-n lines, -f to follow)",
    load: async () => (await import('./commands/logs.ts')).logsCommand,
  },
  {
    name: 'deploy',
    summary: 'ship a new release of a service: bundle, build, switch with no dropped request',
    load: async () => (await import('./commands/deploy.ts')).deployCommand,
  },
  {
    name: 'releases',
    summary: "a service's kept releases: which is live, where each runs",
    load: async () => (await import('./commands/releases.ts')).releasesCommand,
  },
  {
    name: 'rollback',
    summary: 'back to the previous release of a service (or --stack: of every service)',
    load: async () => (await import('./commands/rollback.ts')).rollbackCommand,
  },
  {
    name: 'history',
    summary: 'deploys and rollbacks: who, what, from which release to which, the result',
    load: async () => (await import('./commands/history.ts')).historyCommand,
  },
  {
    name: 'monitors',
    summary: 'every monitor: state, since when, uptime 24h/7d/30d, latency, last checks',
    load: async () => (await import('./commands/monitors.ts')).monitorsCommand,
  },
  {
    name: 'alerts',
    summary: 'send a real test message to the alert channels: alerts test [channel]',
    load: async () => (await import('./commands/alerts.ts')).alertsCommand,
  },
  {
    name: 'restart',
    summary: "restart a service's instances one at a time",
    load: async () => (await import('./commands/restart.ts')).restartCommand,
  },
  {
    name: 'apply',
    summary: 'apply the stack file to the running stack: show the diff, then converge',
    load: async () => (await import('./commands/apply.ts')).applyCommand,
  },
  {
    name: 'down',
    summary: 'stop every service (dependents first) and the control plane',
    load: async () => (await import('./commands/down.ts')).downCommand,
  },
  {
    name: 'secrets',
    summary: 'set, list, rm, import and roll back secrets (values never on argv or screen)',
    load: async () => (await import('./commands/secrets.ts')).secretsCommand,
  },
  {
    name: 'dashboard',
    summary: 'who may log in to the web dashboard: dashboard user add|rm|list',
    load: async () => (await import('./commands/dashboard.ts')).dashboardCommand,
  },
  {
    name: 'backup',
    summary: 'run, list, restore and verify backups (restic, to S3 or a local repository)',
    load: async () => (await import('./commands/backup.ts')).backupCommand,
  },
  {
    name: 'schema',
    summary: 'print the JSON Schema of flotilla.yml (for editor autocompletion)',
    load: async () => (await import('./commands/schema.ts')).schemaCommand,
  },
  {
    name: 'daemon',
    summary: "run the hub and this node's agent in the foreground (what `up --detach` starts)",
    load: async () => (await import('./commands/daemon.ts')).daemonCommand,
  },
  {
    name: 'hub',
    summary: 'run the control plane of a multi-node stack on its hub node',
    load: async () => (await import('./commands/hub.ts')).hubCommand,
  },
  {
    name: 'agent',
    summary: 'run this node in a cluster: --join <token> the first time',
    load: async () => (await import('./commands/agent.ts')).agentCommand,
  },
  {
    name: 'node',
    summary: 'join tokens and the cluster’s nodes: node token|ls|rm|leave|doctor',
    load: async () => (await import('./commands/node.ts')).nodeCommand,
  },
  {
    name: 'tokens',
    summary: 'scoped tokens for the hub API: tokens create|list|revoke',
    load: async () => (await import('./commands/tokens.ts')).tokensCommand,
  },
  {
    name: 'lab',
    summary: 'virtual nodes on this machine: lab up|status|exec|down',
    load: async () => (await import('./commands/lab.ts')).labCommand,
  },
];

function help(output: Output): string {
  const width = Math.max(...COMMANDS.map((command) => command.name.length));
  return [
    `${output.color.bold('flotilla')} — a handful of VPS, one private cloud, one file`,
    '',
    'Usage: flotilla <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`),
    '',
    "Run `flotilla <command> --help` for a command's options.",
  ].join('\n');
}

export async function main(argv: string[], output: Output = terminalOutput()): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    writeLine(name === undefined ? output.err : output.out, help(output));
    return name === undefined ? 2 : 0;
  }
  const entry = COMMANDS.find((candidate) => candidate.name === name);
  if (!entry) {
    writeLine(output.err, `flotilla: unknown command "${name}"`);
    writeLine(
      output.err,
      `hint: ${
        didYouMean(
          name,
          COMMANDS.map((candidate) => candidate.name),
        ) ?? 'run `flotilla help` for the list'
      }`,
    );
    return 2;
  }
  const command = await entry.load();
  // Only before `--`: what follows belongs to another program (lab exec … -- ls -h).
  const ownArgs = rest.includes('--') ? rest.slice(0, rest.indexOf('--')) : rest;
  if (ownArgs.includes('--help') || ownArgs.includes('-h')) {
    writeLine(output.out, `${entry.summary}\n\nUsage: ${command.usage}`);
    return 0;
  }
  const badUsage = (error: UsageError) => {
    writeLine(output.err, `flotilla ${name}: ${error.message}`);
    if (error.hint !== undefined) writeLine(output.err, `hint: ${error.hint}`);
    writeLine(output.err, `usage: ${command.usage}`);
    return 2;
  };
  let args;
  try {
    args = parseArgs({
      args: rest,
      options: command.options,
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    return badUsage(new UsageError((error as Error).message));
  }
  try {
    checkPositionals(name, command.positionals, args.positionals);
    return await command.run(args, output);
  } catch (error) {
    if (error instanceof UsageError) return badUsage(error);
    // An error that carries a hint is one the user can act on (a port another stack
    // holds, a directory Caddy's user cannot reach): not a bug, exit 1.
    const { hint } = error as { hint?: unknown };
    if (typeof hint === 'string') {
      writeLine(output.err, `flotilla ${name}: ${(error as Error).message}`);
      writeLine(output.err, `hint: ${hint}`);
      return 1;
    }
    // Reaching here is a Flotilla bug, not a user mistake: say so plainly.
    writeLine(output.err, `flotilla ${name}: internal error: ${(error as Error).message}`);
    writeLine(
      output.err,
      'hint: this is a bug in Flotilla; rerun with FLOTILLA_DEBUG=1 for details and report it',
    );
    if (process.env.FLOTILLA_DEBUG) writeLine(output.err, (error as Error).stack);
    return 70;
  }
}
