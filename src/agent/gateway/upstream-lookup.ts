// Asks a gateway's upstream DNS responder which instances it hands Caddy for a route: what
// Caddy serves, now that the instances are not in its config. For `status`-like views, tests
// and benches on the gateway node (the responder answers on loopback only).
import { promises as dns } from 'node:dns';
import { readFile } from 'node:fs/promises';
import { upstreamPortFile } from './upstream-dns.ts';

/** The `host:port` dials the gateway whose Caddy lives in `caddyDir` answers for `name`. */
export async function lookupUpstreams(caddyDir: string, name: string): Promise<string[]> {
  const port = Number((await readFile(upstreamPortFile(caddyDir), 'utf8')).trim());
  const resolver = new dns.Resolver({ timeout: 1000, tries: 1 });
  resolver.setServers([`127.0.0.1:${port}`]);
  let records: { name: string; port: number }[];
  try {
    records = await resolver.resolveSrv(name);
  } catch (error) {
    // A route without healthy instances: its name exists, with no records.
    if ((error as NodeJS.ErrnoException).code === dns.NODATA) return [];
    throw error;
  }
  const dials: string[] = [];
  for (const record of records)
    for (const address of await resolver.resolve4(record.name))
      dials.push(`${address}:${record.port}`);
  return dials;
}
