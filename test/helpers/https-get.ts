import https from 'node:https';

export interface GatewayResponse {
  status: number;
  body: string;
}

/** A request through the gateway on loopback, for `host`, trusting only Caddy's local CA. */
export function gatewayRequest(options: {
  host: string;
  path: string;
  ca: string;
  port?: number;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  timeoutMs?: number;
}): Promise<GatewayResponse> {
  return new Promise((resolve, reject) => {
    const request = https.request(
      {
        host: '127.0.0.1',
        port: options.port ?? 443,
        path: options.path,
        method: options.method ?? 'GET',
        servername: options.host,
        headers: {
          ...options.headers,
          host: options.host,
          ...(options.body !== undefined && {
            'content-length': String(Buffer.byteLength(options.body)),
          }),
        },
        ca: options.ca,
        agent: false,
        timeout: options.timeoutMs ?? 5000,
      },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      },
    );
    request.on('timeout', () => request.destroy(new Error('timed out')));
    request.on('error', reject);
    request.end(options.body);
  });
}

/**
 * gatewayRequest once Caddy holds the host's certificate: right after a load it is still
 * issuing it from its internal CA, and until then the handshake fails (EPROTO) without any
 * request reaching a route. So a TLS failure is tried again, anything else is not.
 */
export async function gatewayRequestOnceIssued(
  options: Parameters<typeof gatewayRequest>[0],
): Promise<GatewayResponse> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await gatewayRequest(options);
    } catch (error) {
      if (attempt >= 60 || (error as { code?: string }).code !== 'EPROTO') throw error;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}
