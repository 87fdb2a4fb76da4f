// Where a node's container segments get their subnets: a /24 each from the node's
// `container_pool` (default 10.213.0.0/16), picked by a hash of stack and segment, so two
// stacks on one node rarely collide (Docker refuses an overlap with a clear error rather
// than picking another range). A container subnet is a route to a bridge on the node, so
// the pool must not cover anything the node reaches elsewhere: mesh addresses, the nodes'
// own addresses, clients firewall.allow admits (their replies would go to a bridge), or
// Docker's default bridge (docker0, 172.17.0.0/16). The checks need the whole stack, so
// they live here; the schema checks the block alone (private, at least a /24).
import { createHash } from 'node:crypto';
import type { Finding } from '../spec/diagnostic.ts';
import { cidrsOverlap, formatIPv4, parseCidr, type Cidr } from '../spec/formats.ts';
import type { Stack } from '../spec/schema.ts';
import { groupBy } from './group-by.ts';
import { placeInstances } from './placement.ts';
import { classifySource, serviceSegments } from './reachability.ts';

const DEFAULT_CONTAINER_POOL = '10.213.0.0/16';
const SEGMENT_PREFIX = 24;
const SEGMENT_SIZE = 2 ** (32 - SEGMENT_PREFIX);

/** A pool without room for a node's segments (validation reports it first, with its line). */
export class ContainerPoolError extends Error {
  override name = 'ContainerPoolError';
  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(message);
  }
}

/** The block a node's container segments take their /24s from. */
function containerPool(stack: Stack, node: string): string {
  return stack.nodes[node]?.container_pool ?? DEFAULT_CONTAINER_POOL;
}

/** Something the node routes elsewhere, which a container subnet must not cover. */
interface Reserved {
  block: Cidr;
  what: string;
  why: string;
}

function reservedBlocks(stack: Stack): Reserved[] {
  const reserved: Reserved[] = [];
  const mesh = parseCidr(stack.mesh.cidr);
  if (mesh)
    reserved.push({
      block: mesh,
      what: `mesh.cidr ${stack.mesh.cidr}`,
      why: 'the nodes inside it would be unreachable from this node',
    });
  for (const [name, node] of Object.entries(stack.nodes)) {
    const address = parseCidr(node.address);
    if (address)
      reserved.push({
        block: address,
        what: `node \`${name}\`'s address ${node.address}`,
        why: 'this node would send its traffic for that node to a container bridge',
      });
  }
  stack.firewall.allow.forEach((rule, index) =>
    rule.from.forEach((entry) => {
      const source = classifySource(stack, entry);
      const block = source?.kind === 'cidr' ? parseCidr(source.cidr) : undefined;
      if (block)
        reserved.push({
          block,
          what: `firewall.allow[${index}]'s source ${entry}`,
          why: 'clients there whose addresses fall in a container subnet would get no answer (it goes to the bridge)',
        });
    }),
  );
  reserved.push({
    block: parseCidr('172.17.0.0/16')!,
    what: "Docker's default bridge (docker0, 172.17.0.0/16)",
    why: 'Docker refuses a network that overlaps it',
  });
  return reserved;
}

/** A /24 of a pool, as a block. */
function slotBlock(pool: Cidr, slot: number): Cidr {
  return {
    network: pool.network + slot * SEGMENT_SIZE,
    prefix: SEGMENT_PREFIX,
    size: SEGMENT_SIZE,
  };
}

interface PoolProblem {
  message: string;
  hint: string;
}

/**
 * Why `node`'s pool cannot hold these segments (empty: it can). A pool the stack names must
 * cover nothing reserved and have a /24 per segment; the default one skips what it covers.
 */
function poolProblems(
  stack: Stack,
  node: string,
  segments: readonly string[],
  reserved: readonly Reserved[],
): PoolProblem[] {
  const named = stack.nodes[node]?.container_pool;
  const pool = parseCidr(named ?? DEFAULT_CONTAINER_POOL);
  if (!pool) return []; // the schema said why
  const free = freeSixteen(reserved);
  const instead = free === undefined ? '' : `, e.g. ${free}`;
  const slots = pool.size / SEGMENT_SIZE;
  if (named === undefined) {
    let usable = 0;
    for (let slot = 0; slot < slots; slot++)
      if (!reserved.some(({ block }) => cidrsOverlap(slotBlock(pool, slot), block))) usable++;
    return usable >= segments.length
      ? []
      : [
          {
            message: `node \`${node}\`'s containers are in ${segments.length} segments, and only ${usable} /24s of the default container pool ${DEFAULT_CONTAINER_POOL} cover none of mesh.cidr, the nodes' addresses, firewall.allow's blocks and docker0`,
            hint: `set \`container_pool\` on node \`${node}\` to a free private block${instead}`,
          },
        ];
  }
  const problems = reserved
    .filter((entry) => cidrsOverlap(pool, entry.block))
    .map((entry) => ({
      message: `container pool ${named} overlaps ${entry.what}: ${entry.why}`,
      hint: `choose a private block that covers none of them${instead}`,
    }));
  if (segments.length > slots)
    problems.push({
      message: `node \`${node}\`'s containers are in ${segments.length} segments, and container pool ${named} has room for ${slots} (each segment takes a /24)`,
      hint: `use a larger block, e.g. a /${SEGMENT_PREFIX - Math.ceil(Math.log2(segments.length))}`,
    });
  return problems;
}

/**
 * The node's segments' subnets: each at its hashed /24 of the pool, or the next free one.
 * Throws ContainerPoolError when the pool cannot hold them (validation says so first, at
 * its line, when it ran).
 */
export function allocateSubnets(
  stack: Stack,
  node: string,
  segments: readonly string[],
): Map<string, string> {
  const reserved = reservedBlocks(stack);
  const [problem] = poolProblems(stack, node, segments, reserved);
  if (problem) throw new ContainerPoolError(problem.message, problem.hint);
  const pool = parseCidr(containerPool(stack, node))!;
  const slots = pool.size / SEGMENT_SIZE;
  const usable = (slot: number) =>
    !reserved.some(({ block }) => cidrsOverlap(slotBlock(pool, slot), block));
  const taken = new Set<number>();
  const result = new Map<string, string>();
  for (const segment of segments) {
    const hash = createHash('sha256').update(`${stack.name}/${segment}`).digest();
    let slot = hash.readUInt32BE(0) % slots;
    while (taken.has(slot) || !usable(slot)) slot = (slot + 1) % slots;
    taken.add(slot);
    result.set(segment, `${formatIPv4(slotBlock(pool, slot).network)}/${SEGMENT_PREFIX}`);
  }
  return result;
}

/** A private /16 that covers nothing reserved, to offer in a hint (10.213.0.0/16 first). */
function freeSixteen(reserved: readonly Reserved[]): string | undefined {
  const candidates = [
    ...Array.from({ length: 256 }, (_, offset) => `10.${(213 + offset) % 256}.0.0/16`),
    ...Array.from({ length: 16 }, (_, offset) => `172.${16 + offset}.0.0/16`),
    '192.168.0.0/16',
  ];
  return candidates.find(
    (text) => !reserved.some((entry) => cidrsOverlap(parseCidr(text)!, entry.block)),
  );
}

/** What is wrong with the nodes' container pools, each at the place to fix. */
export function containerPoolFindings(stack: Stack): Finding[] {
  const reserved = reservedBlocks(stack);
  const images = placeInstances(stack).filter(
    (instance) => stack.services[instance.service]?.image !== undefined,
  );
  const byNode = groupBy(images, (instance) => instance.node);
  return Object.entries(stack.nodes).flatMap(([name, node]) => {
    const segments = [
      ...new Set(
        (byNode.get(name) ?? []).flatMap((instance) => serviceSegments(stack, instance.service)),
      ),
    ];
    const path =
      node.container_pool === undefined ? ['nodes', name] : ['nodes', name, 'container_pool'];
    return poolProblems(stack, name, segments, reserved).map((problem) => ({ path, ...problem }));
  });
}
