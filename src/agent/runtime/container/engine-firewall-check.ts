// Whether the Docker Engine the agent drives manages the node's firewall (dockerd's default,
// `"iptables": true`). Such a dockerd DNATs a port published on the node's mesh address in
// nat PREROUTING, so a connection from anywhere is forwarded to the container and never meets
// the input chain where Flotilla admits only the nodes a service grants; its nat OUTPUT rule
// does the same to a native service's connection, past the output chain that keeps it to its
// granted ports; and it sets the forward policy to drop. Its chains (DOCKER, DOCKER-USER,
// DOCKER-ISOLATION-STAGE-*) are the sign, seen with nft (iptables-nft, Debian's default) or
// in legacy iptables. A dockerd restarted with iptables off leaves them, and their rules and
// drop policy, in place: they count too, until removed.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { z } from 'zod';

const run = promisify(execFile);

const DOCKER_CHAIN = /^DOCKER(-USER|-ISOLATION-STAGE-\d+)?$/;

/** The answer of `nft -j list chains`: metainfo, then one entry per chain. */
const nftList = z.object({ nftables: z.array(z.unknown()) });
const chainEntry = z.object({
  chain: z.object({ family: z.string(), table: z.string(), name: z.string() }),
});

/** `argv` run in the network namespace `netns` (a name under /run/netns), or the agent's own. */
function inNetns(netns: string | undefined, argv: string[]): string[] {
  return netns === undefined ? argv : ['nsenter', `--net=/run/netns/${netns}`, '--', ...argv];
}

async function output(argv: string[]): Promise<string> {
  const [program, ...args] = argv;
  const { stdout } = await run(program!, args, { maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

/** Docker's chains in the namespace's ruleset, as `family table chain`. */
export async function dockerChains(netns?: string): Promise<string[]> {
  const found: string[] = [];
  const listed = nftList.parse(
    JSON.parse(await output(inNetns(netns, ['nft', '-j', 'list', 'chains']))),
  );
  for (const entry of listed.nftables) {
    const { chain } = chainEntry.safeParse(entry).data ?? {};
    if (chain && DOCKER_CHAIN.test(chain.name))
      found.push(`${chain.family} ${chain.table} ${chain.name}`);
  }
  // Legacy iptables (a machine whose iptables is not the nft one): nft cannot see these.
  let legacy = '';
  try {
    legacy = await output(inNetns(netns, ['iptables-legacy-save']));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  let table = '';
  for (const line of legacy.split('\n')) {
    if (line.startsWith('*')) table = line.slice(1);
    const chain = /^:(\S+)/.exec(line)?.[1];
    if (chain !== undefined && DOCKER_CHAIN.test(chain))
      found.push(`ip ${table} ${chain} (legacy)`);
  }
  return found;
}

/**
 * Why no container may start on this node, or undefined when the engine leaves the firewall
 * to Flotilla. The reason says what to do; a ruleset that cannot be read is a reason too,
 * since nothing then vouches for it.
 */
export async function engineFirewallProblem(netns?: string): Promise<string | undefined> {
  let chains: string[];
  try {
    chains = await dockerChains(netns);
  } catch (error) {
    const detail = error instanceof Error ? error.message.split('\n')[0] : String(error);
    return `cannot read this node's firewall to check that Docker does not manage it (${detail}); no container is started (the agent needs root and nftables: apt-get install nftables)`;
  }
  if (chains.length === 0) return undefined;
  return (
    `the Docker Engine manages this node's firewall (its chains are there: ${chains.join(', ')}): it forwards connections to ports published on the mesh address past Flotilla's firewall, so no container is started` +
    ` (set "iptables": false and "ip6tables": false in /etc/docker/daemon.json and restart Docker; Docker leaves its old chains and its FORWARD drop policy behind, so then reboot the node or remove them; see docs/docker-engine.md)`
  );
}
