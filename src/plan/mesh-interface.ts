// The network interface mesh traffic arrives on. WireGuard interfaces are named per node
// because wireguard-go's control sockets share one directory across network namespaces.
import type { Stack } from '../spec/schema.ts';

const IFNAME_MAX = 15;

export function meshInterfaceName(stack: Stack, node: string): string {
  if (stack.mesh.provider === 'tailscale') return 'tailscale0';
  return `flo-${node}`.slice(0, IFNAME_MAX);
}

/** The UDP port the mesh listens on publicly (WireGuard's, or Tailscale's default). */
export function meshListenPort(stack: Stack): number {
  return stack.mesh.provider === 'tailscale' ? 41641 : stack.mesh.port;
}
