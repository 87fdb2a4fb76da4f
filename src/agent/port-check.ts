// Before a new instance starts: are its ports free on this node? Otherwise a stray process
// (another stack, a system service) would answer its health checks and take its traffic.
import net from 'node:net';

/** The first of `ports` something else already listens on, if any. */
export async function portInUse(ports: readonly number[]): Promise<number | undefined> {
  for (const port of ports) {
    const free = await new Promise<boolean>((resolve) => {
      const probe = net.createServer();
      probe.once('error', () => resolve(false));
      // Binding the wildcard address fails when any address holds the port.
      probe.listen({ port, host: '0.0.0.0', exclusive: true }, () =>
        probe.close(() => resolve(true)),
      );
    });
    if (!free) return port;
  }
  return undefined;
}
