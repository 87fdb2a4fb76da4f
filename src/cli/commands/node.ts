// `flotilla node token|ls|rm`: the hub's side of joining and removing nodes; `node add` and
// `node upgrade` set up and upgrade servers over SSH from the hub, and `node setup` is their
// half on the server; `node leave`, run on a node, removes what `down` left there; `node
// doctor` checks the node it runs on.
import { HubRequestFailed } from '../hub-client.ts';
import { connectRunningStack } from '../running-stack.ts';
import { table, toJson, writeLine, type Output } from '../output.ts';
import type { CommandSpec } from '../command.ts';
import { parseDuration } from '../../spec/formats.ts';
import { runNodeLeave } from './node-leave.ts';
import { runNodeDoctor } from './node-doctor.ts';
import { UsageError } from '../usage.ts';

const USAGE = [
  'flotilla node add [USER@]HOST[:PORT] [--name NODE] [-i KEY] [--host-key SHA256:…] [--known-hosts FILE] [--address PUBLIC_IP] [-f flotilla.yml]',
  '       flotilla node upgrade NODE… | --all [-f flotilla.yml]',
  '       flotilla node setup --node NAME [--address PUBLIC_IP] [--join-stdin] [--state-dir DIR] [--json]  (on the server; node add runs it)',
  '       flotilla node setup --check [--json] [--state-dir DIR]',
  '       flotilla node token [--node NAME [--replace]] [--ttl 15m] [-f flotilla.yml]',
  '       flotilla node ls [--json] [-f flotilla.yml]',
  '       flotilla node rm <name> [-f flotilla.yml]',
  '       flotilla node leave [-f flotilla.yml | --state-dir DIR]',
  '       flotilla node doctor [-f flotilla.yml | --state-dir DIR]',
].join('\n');

interface NodeList {
  nodes: { node: string; endpoint: string; joined_at: string; hub: boolean }[];
}

/** The options each verb takes besides -f: any other is refused, never ignored. */
const VERB_OPTIONS: Record<string, readonly string[]> = {
  add: ['file', 'name', 'identity', 'host-key', 'known-hosts', 'address'],
  upgrade: ['file', 'all'],
  setup: ['node', 'address', 'join-stdin', 'state-dir', 'json', 'check'],
  token: ['file', 'node', 'ttl', 'replace'],
  ls: ['file', 'json'],
  rm: ['file'],
  leave: ['file', 'state-dir'],
  doctor: ['file', 'state-dir'],
};

function checkVerbOptions(verb: string, values: Record<string, unknown>): void {
  const allowed = VERB_OPTIONS[verb] ?? [];
  const extra = Object.keys(values).find((name) => !allowed.includes(name));
  if (extra !== undefined)
    throw new UsageError(
      `node ${verb} takes no --${extra}`,
      `its options: ${allowed.map((name) => `--${name}`).join(' ') || 'none'}`,
    );
}

function usageError(output: Output, message: string): number {
  writeLine(output.err, `flotilla node: ${message}`);
  writeLine(output.err, `usage: ${USAGE}`);
  return 2;
}

export const nodeCommand: CommandSpec = {
  usage: USAGE,
  options: {
    file: { type: 'string', short: 'f' },
    node: { type: 'string' },
    ttl: { type: 'string' },
    json: { type: 'boolean' },
    replace: { type: 'boolean' },
    'state-dir': { type: 'string' },
    name: { type: 'string' },
    identity: { type: 'string', short: 'i' },
    'host-key': { type: 'string' },
    'known-hosts': { type: 'string' },
    address: { type: 'string' },
    all: { type: 'boolean' },
    'join-stdin': { type: 'boolean' },
    check: { type: 'boolean' },
  },
  positionals: {
    verbs: {
      add: ['<[user@]host[:port]>'],
      upgrade: ['[node...]'],
      setup: [],
      token: [],
      ls: [],
      rm: ['<name>'],
      leave: [],
      doctor: [],
    },
  },
  async run({ values, positionals }, output: Output) {
    // main checked the verb and its words against `positionals` above.
    const [verb, ...rest] = positionals as [
      'add' | 'upgrade' | 'setup' | 'token' | 'ls' | 'rm' | 'leave' | 'doctor',
      ...string[],
    ];
    checkVerbOptions(verb, values);
    // Loaded only when used: the SSH client is no part of `node ls`.
    if (verb === 'add') return (await import('./node-add.ts')).runNodeAdd(values, rest[0]!, output);
    if (verb === 'upgrade')
      return (await import('./node-upgrade.ts')).runNodeUpgrade(values, rest, output);
    // Run on the node itself, with the hub possibly gone: no API call.
    if (verb === 'setup') return (await import('./node-setup.ts')).runNodeSetup(values, output);
    if (verb === 'leave') return runNodeLeave(values, output);
    if (verb === 'doctor') return runNodeDoctor(values, output);
    if (values.replace && (verb !== 'token' || values.node === undefined))
      return usageError(
        output,
        '--replace gives one node new keys: `flotilla node token --node NAME --replace`',
      );
    const ttl = values.ttl === undefined ? undefined : parseDuration(values.ttl as string);
    if (ttl === undefined && values.ttl !== undefined)
      return usageError(
        output,
        `--ttl must be a duration such as 15m, not "${String(values.ttl)}"`,
      );
    const running = await connectRunningStack(values.file as string | undefined, output);
    if (!running) return 1;
    try {
      if (verb === 'token') {
        const { token } = await running.client.post<{ token: string }>('/api/v1/nodes/token', {
          ...(values.node === undefined ? {} : { node: values.node }),
          ...(ttl === undefined ? {} : { ttl_ms: ttl }),
          ...(values.replace ? { replace: true } : {}),
        });
        if (values.replace)
          writeLine(
            output.err,
            `the machine that joins with this token becomes node ${String(values.node)}, with its own new keys`,
          );
        writeLine(output.out, token);
        return 0;
      }
      if (verb === 'rm') {
        await running.client.delete(`/api/v1/nodes/${encodeURIComponent(rest[0]!)}`);
        writeLine(output.out, `removed node ${rest[0]}: its services stopped, its peers dropped`);
        return 0;
      }
      const { nodes } = await running.client.get<NodeList>('/api/v1/nodes');
      if (values.json) writeLine(output.out, toJson(nodes));
      else
        writeLine(
          output.out,
          table(
            [
              ['NODE', 'ENDPOINT', 'JOINED', 'ROLE'],
              ...nodes.map((node) => [
                node.node,
                node.endpoint,
                node.joined_at,
                node.hub ? 'hub' : 'agent',
              ]),
            ],
            output.color.bold,
          ),
        );
      return 0;
    } catch (error) {
      if (!(error instanceof HubRequestFailed)) throw error;
      writeLine(output.err, `flotilla node ${verb}: ${error.message}`);
      return 1;
    }
  },
};
