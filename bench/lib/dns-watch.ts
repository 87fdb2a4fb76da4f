// Watches a gateway's upstream DNS responder (which instances serve each route) from inside
// the gateway node's network namespace, where the responder listens on loopback only:
//   ip netns exec <ns> node --import tsx bench/lib/dns-watch.ts '<json options>'
// It asks for every name each `intervalMs` and prints one JSON line (a WatchLine) per name
// whose answer changed (the first answer counts as one), stamped with the wall clock
// (Date.now(), which the bench compares with its own). bench/lib/upstream-watch.ts starts it
// and reads it. It exits when its stdin closes: the bench is gone.
import { z } from 'zod';
import { lookupUpstreams } from '../../src/agent/gateway/upstream-lookup.ts';
import type { WatchLine } from './upstream-watch.ts';

const optionsSchema = z.object({
  caddyDir: z.string().min(1),
  names: z.array(z.string().min(1)).min(1),
  intervalMs: z.number().int().positive(),
});

const options = optionsSchema.parse(JSON.parse(process.argv[2] ?? '{}'));
for (const event of ['end', 'close']) process.stdin.on(event, () => process.exit(0));
process.stdin.resume();

const last = new Map<string, string>();
for (;;) {
  const round = await Promise.all(
    options.names.map(async (name): Promise<Omit<WatchLine, 'at'>> => {
      try {
        return { name, dials: (await lookupUpstreams(options.caddyDir, name)).sort() };
      } catch (error) {
        return { name, error: (error as Error).message };
      }
    }),
  );
  const at = Date.now();
  for (const answer of round) {
    const key = JSON.stringify(answer);
    if (last.get(answer.name) === key) continue;
    last.set(answer.name, key);
    process.stdout.write(`${JSON.stringify({ at, ...answer })}\n`);
  }
  await new Promise((resolve) => setTimeout(resolve, options.intervalMs));
}
