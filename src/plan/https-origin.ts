// A public host's origin through the gateway, as browsers and curl write it: the gateway's
// https port only when it is not 443.
export function httpsOrigin(host: string, httpsPort: number): string {
  return `https://${host}${httpsPort === 443 ? '' : `:${httpsPort}`}`;
}
