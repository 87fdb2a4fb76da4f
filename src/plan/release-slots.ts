// Where a deployed instance listens. A deploy starts the new release beside the old one, so
// the two need different ports: each instance of a process service has two release slots,
// `a` and `b`, each with its own ports derived from the planned ones, and a deploy
// alternates between them. The gateway dials whichever slot is healthy (its DNS answers,
// no reload); each node's firewall opens both slots wherever it opens the planned port.
import type { Slot } from '../release/release-record.ts';

const FIRST_PORT = 1024;
const PORT_SPAN = 65_536 - FIRST_PORT;
const SLOT_OFFSET: Record<Slot, number> = { a: 10_000, b: 20_000 };

/** The port of `port` in `slot`: 10,000 (a) or 20,000 (b) above it, wrapped above 1023. */
export function slotPort(port: number, slot: Slot): number {
  return FIRST_PORT + ((port - FIRST_PORT + SLOT_OFFSET[slot] + PORT_SPAN) % PORT_SPAN);
}

export function slotPorts(ports: Record<string, number>, slot: Slot): Record<string, number> {
  return Object.fromEntries(
    Object.entries(ports).map(([name, port]) => [name, slotPort(port, slot)]),
  );
}

/** Both slots' ports of each planned port: what a firewall opens beside it. */
export function releaseSlotPorts(ports: readonly number[]): number[] {
  return ports.flatMap((port) => [slotPort(port, 'a'), slotPort(port, 'b')]);
}

/** The instance id of a slot: `api-1` runs as `api-1a` or `api-1b` once deployed. */
export function slotInstanceId(id: string, slot: Slot): string {
  return `${id}${slot}`;
}

/** The other slot: where the next release starts. */
export function otherSlot(slot: Slot): Slot {
  return slot === 'a' ? 'b' : 'a';
}
