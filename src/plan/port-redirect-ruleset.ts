// The nftables table that keeps a deployed service's planned port working: other services
// (on this node over loopback, from other nodes over the mesh) connect to the planned port,
// and each new connection is redirected to the release slot that serves (release-variants.ts).
// A connection keeps the target it was redirected to, so one opened before a switch
// finishes on the old variant while the next goes to the new one. Nothing listens on the
// planned port itself, which leaves each variant's own port free for its health checks.
import { SEGMENT_BRIDGE_PREFIX } from './local-segments.ts';
import type { PortRedirect } from './release-variants.ts';

/** One table per stack, apart from the firewall and the segments. */
export function portRedirectTable(stack: string): string {
  return `flotilla-redirect-${stack}`;
}

/** The table with `redirects` (none: the table is deleted), in one nft transaction. */
export function portRedirectRuleset(stack: string, redirects: readonly PortRedirect[]): string {
  const table = portRedirectTable(stack);
  const reset = `table ip ${table} {}\ndelete table ip ${table}\n`;
  if (redirects.length === 0) return reset;
  // Containers' connections to native services are the segment table's to DNAT.
  const fromBridges = `iifname != "${SEGMENT_BRIDGE_PREFIX}*"`;
  const rules = (match: string) =>
    redirects.map(({ port, to }) => `    ${match} tcp dport ${port} redirect to :${to}`).join('\n');
  return [
    reset,
    `table ip ${table} {`,
    // Local clients: the connection leaves through `output` (NAT before the segments' filter).
    '  chain output {',
    '    type nat hook output priority -100; policy accept;',
    rules('fib daddr type local'),
    '  }',
    // Clients on other nodes arrive on the mesh for this node's own address.
    '  chain prerouting {',
    '    type nat hook prerouting priority -100; policy accept;',
    rules(`${fromBridges} fib daddr type local`),
    '  }',
    '}',
    '',
  ].join('\n');
}
