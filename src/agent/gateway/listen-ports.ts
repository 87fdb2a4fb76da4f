// The TCP ports a Caddy config makes Caddy listen on, so the gateway can check them before a
// load instead of finding out from traffic that went to another stack's Caddy.
import { z } from 'zod';

/** A listen address whose port cannot be told without Caddy (a placeholder, a typo). */
export class UnknownListenAddress extends Error {}

const port = z.number().int().min(1).max(65_535);

const configSchema = z.looseObject({
  apps: z
    .looseObject({
      http: z
        .looseObject({
          http_port: port.optional(),
          https_port: port.optional(),
          servers: z.record(z.string(), z.looseObject({ listen: z.array(z.string()).optional() })),
        })
        .optional(),
    })
    .optional(),
});

// Caddy's own defaults for the two ports automatic HTTPS uses.
const HTTP_PORT = 80;
const HTTPS_PORT = 443;
/** A port range in a listen address binds every port in it; a wider one is surely a typo. */
const MAX_RANGE = 1024;

/**
 * With any server defined, http_port and https_port count too: automatic HTTPS listens on
 * http_port for its redirects and ACME challenges. Sorted, without duplicates.
 */
export function listenPorts(config: unknown): number[] {
  const parsed = configSchema.safeParse(config);
  if (!parsed.success) throw new UnknownListenAddress('apps.http is not a valid http app');
  const http = parsed.data.apps?.http;
  const servers = Object.values(http?.servers ?? {});
  if (servers.length === 0) return [];
  const ports = new Set([http?.http_port ?? HTTP_PORT, http?.https_port ?? HTTPS_PORT]);
  for (const server of servers) {
    for (const address of server.listen ?? []) for (const p of addressPorts(address)) ports.add(p);
  }
  return [...ports].sort((a, b) => a - b);
}

/** `[network/]host:port[-port]`; unix sockets and UDP hold no TCP port. */
function addressPorts(address: string): number[] {
  const slash = address.indexOf('/');
  const network = slash < 0 ? 'tcp' : address.slice(0, slash);
  if (network.startsWith('unix') || network.startsWith('udp')) return [];
  const match = /:(\d+)(?:-(\d+))?$/.exec(address.slice(slash + 1));
  if (!/^tcp[46]?$/.test(network) || !match) {
    throw new UnknownListenAddress(`cannot tell which port listen address "${address}" takes`);
  }
  const low = Number(match[1]);
  const high = match[2] === undefined ? low : Number(match[2]);
  if (!port.safeParse(low).success || !port.safeParse(high).success || high < low) {
    throw new UnknownListenAddress(`listen address "${address}" has no valid port`);
  }
  if (high - low >= MAX_RANGE) {
    throw new UnknownListenAddress(
      `listen address "${address}" spans more than ${MAX_RANGE} ports`,
    );
  }
  return Array.from({ length: high - low + 1 }, (_, index) => low + index);
}
