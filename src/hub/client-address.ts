// The address of the client behind a request to one of the hub's public listeners (heartbeat
// pushes, the dashboard), as the key its rate limits count by.
//
// Behind the gateway the listener's peer is Caddy on loopback, and the client's address is
// the last X-Forwarded-For entry. Trusted only from a loopback peer: Caddy's reverse_proxy
// sets that header to the address that connected to it, replacing whatever the client sent
// (with trusted_proxies it appends, and the last entry is still the one Caddy saw). Only a
// process on the hub node itself could write it otherwise, and that gains it fresh rate-limit
// budgets, nothing more. IPv6 clients count per /64, the least a host is given.
import type http from 'node:http';
import net from 'node:net';

const isLoopback = (address: string) =>
  address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');

/** An IPv6 address's first 64 bits, as a key. */
function prefix64(address: string): string {
  const groups = (part: string) =>
    part === ''
      ? []
      : part.split(':').flatMap((group) => (group.includes('.') ? ['0', '0'] : [group]));
  const [head = '', tail] = address.split('::');
  const before = groups(head);
  const after = tail === undefined ? [] : groups(tail);
  const all = [...before, ...Array<string>(8 - before.length - after.length).fill('0'), ...after];
  return `${all
    .slice(0, 4)
    .map((group) => Number.parseInt(group, 16).toString(16))
    .join(':')}::/64`;
}

/** The key a request's client is limited by: its IPv4 address, or its IPv6 /64. */
export function clientAddress(request: http.IncomingMessage): string {
  const peer = request.socket.remoteAddress ?? '';
  let source = peer;
  const forwarded = request.headers['x-forwarded-for'];
  if (isLoopback(peer) && typeof forwarded === 'string') {
    const last = forwarded.split(',').at(-1)!.trim();
    if (net.isIP(last) !== 0) source = last;
  }
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(source);
  if (mapped) return mapped[1]!;
  return net.isIPv6(source) ? prefix64(source.split('%')[0]!) : source;
}
