// Starting one of the hub's HTTP listeners (API, webhooks, heartbeat pushes) on a host and
// port (0: the OS picks one, as the tests do) and closing it with its open connections, so a
// keep-alive client cannot hold a stopping hub. Closing twice is harmless.
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { urlHost } from '../spec/formats.ts';

export interface HttpListener {
  /** http://host:port, with the port the OS gave. */
  url: string;
  close(): Promise<void>;
}

export async function listenHttp(
  server: http.Server,
  host: string,
  port: number,
): Promise<HttpListener> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://${urlHost(host)}:${bound}`,
    close: () =>
      new Promise<void>((resolve) => {
        // Its only error: the server was closed already.
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
