// The few DNS messages the gateway's upstream responder speaks (RFC 1035, RFC 2782): it reads
// one standard query for one name and answers SRV, A or AAAA records, nothing else. Anything
// that is not exactly such a query is refused here, before a name is even looked at: the
// only client is the local Caddy, so there is nothing to be lenient for.
export const TYPE = { A: 1, AAAA: 28, SRV: 33, OPT: 41 } as const;
export const RCODE = { NOERROR: 0, FORMERR: 1, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
const CLASS_IN = 1;
const HEADER_BYTES = 12;
const MAX_NAME_BYTES = 255;
const MAX_LABEL_BYTES = 63;
/** What a UDP answer may hold without EDNS (RFC 1035), and the most we ever send. */
const PLAIN_UDP_BYTES = 512;
const MAX_UDP_BYTES = 4096;

export class MalformedQuery extends Error {
  override name = 'MalformedQuery';
}

export interface Query {
  id: number;
  /** Lower case, dot-terminated (`web.flotilla.`). */
  name: string;
  type: number;
  /** The question section as received, echoed in the answer. */
  question: Buffer;
  recursionDesired: boolean;
  /** The largest answer the asker takes: 512, or what its EDNS OPT record offers. */
  maxBytes: number;
}

export type AnswerRecord =
  | { type: typeof TYPE.SRV; priority: number; weight: number; port: number; target: string }
  /** Upstreams are dialled on loopback or the IPv4 mesh: A records only. */
  | { type: typeof TYPE.A; address: string };

/**
 * One question, no answers nor authority records; at most one additional record (the EDNS
 * OPT record Go's resolver sends), which is ignored. No compression in the question.
 */
export function parseQuery(packet: Buffer): Query {
  if (packet.length < HEADER_BYTES) throw new MalformedQuery('shorter than a DNS header');
  const id = packet.readUInt16BE(0);
  const flags = packet.readUInt16BE(2);
  const counts = [4, 6, 8, 10].map((offset) => packet.readUInt16BE(offset));
  if (flags & 0x8000) throw new MalformedQuery('a response, not a query');
  if ((flags >> 11) & 0xf) throw new MalformedQuery('not a standard query');
  if (counts[0] !== 1 || counts[1] !== 0 || counts[2] !== 0 || counts[3]! > 1)
    throw new MalformedQuery('not exactly one question');
  const labels: string[] = [];
  let offset = HEADER_BYTES;
  for (;;) {
    const length = packet[offset];
    if (length === undefined) throw new MalformedQuery('the name runs past the packet');
    offset += 1;
    if (length === 0) break;
    if (length > MAX_LABEL_BYTES) throw new MalformedQuery('a compressed or oversized label');
    if (offset + length > packet.length) throw new MalformedQuery('a label runs past the packet');
    labels.push(packet.toString('latin1', offset, offset + length).toLowerCase());
    offset += length;
  }
  if (offset - HEADER_BYTES > MAX_NAME_BYTES) throw new MalformedQuery('the name is too long');
  if (offset + 4 > packet.length) throw new MalformedQuery('the question has no type and class');
  const type = packet.readUInt16BE(offset);
  if (packet.readUInt16BE(offset + 2) !== CLASS_IN) throw new MalformedQuery('not class IN');
  return {
    maxBytes: counts[3] === 1 ? ednsPayload(packet, offset + 4) : PLAIN_UDP_BYTES,
    id,
    name: `${labels.join('.')}.`,
    type,
    question: packet.subarray(HEADER_BYTES, offset + 4),
    recursionDesired: (flags & 0x0100) !== 0,
  };
}

/** The additional record must be an EDNS OPT record for the root: its class is the payload size. */
function ednsPayload(packet: Buffer, offset: number): number {
  if (offset + 11 > packet.length || packet[offset] !== 0)
    throw new MalformedQuery('the additional record is not an EDNS OPT record');
  if (packet.readUInt16BE(offset + 1) !== TYPE.OPT)
    throw new MalformedQuery('the additional record is not an EDNS OPT record');
  return Math.min(MAX_UDP_BYTES, Math.max(PLAIN_UDP_BYTES, packet.readUInt16BE(offset + 3)));
}

/**
 * An authoritative answer (Go's resolver takes a non-authoritative empty one for a lame
 * referral), with as many of `answers` as fit what the asker takes: the first ones, so a
 * route with more instances than fit (about 24 with Go's 1232-byte EDNS) is served by those.
 */
export function buildResponse(query: Query, rcode: number, answers: readonly AnswerRecord[] = []) {
  const records: Buffer[] = [];
  let size = HEADER_BYTES + query.question.length;
  for (const record of answers.map(encodeRecord)) {
    if (size + record.length > query.maxBytes) break;
    records.push(record);
    size += record.length;
  }
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt16BE(query.id, 0);
  header.writeUInt16BE(0x8000 | 0x0400 | (query.recursionDesired ? 0x0100 : 0) | rcode, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(records.length, 6);
  return Buffer.concat([header, query.question, ...records]);
}

/** A response to a packet too broken to answer in kind: its id, FORMERR, no question. */
export function formatError(packet: Buffer): Buffer | undefined {
  if (packet.length < 2) return undefined;
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt16BE(packet.readUInt16BE(0), 0);
  header.writeUInt16BE(0x8000 | RCODE.FORMERR, 2);
  return header;
}

function encodeRecord(record: AnswerRecord): Buffer {
  let data: Buffer;
  if (record.type === TYPE.SRV) {
    const fixed = Buffer.alloc(6);
    fixed.writeUInt16BE(record.priority, 0);
    fixed.writeUInt16BE(record.weight, 2);
    fixed.writeUInt16BE(record.port, 4);
    data = Buffer.concat([fixed, encodeName(record.target)]);
  } else {
    data = Buffer.from(record.address.split('.').map(Number));
  }
  const fixed = Buffer.alloc(12);
  fixed.writeUInt16BE(0xc000 | HEADER_BYTES, 0); // the question's name
  fixed.writeUInt16BE(record.type, 2);
  fixed.writeUInt16BE(CLASS_IN, 4);
  fixed.writeUInt32BE(0, 6); // TTL 0: the set changes any moment, nobody else may cache it
  fixed.writeUInt16BE(data.length, 10);
  return Buffer.concat([fixed, data]);
}

function encodeName(name: string): Buffer {
  const labels = name.replace(/\.$/, '').split('.');
  return Buffer.concat([
    ...labels.map((label) => Buffer.concat([Buffer.from([label.length]), Buffer.from(label)])),
    Buffer.from([0]),
  ]);
}
