// Brings this node's mesh interface (WireGuard; on a tailnet, Tailscale keeps it) and
// firewall to what the hub's desired state says. Both steps are idempotent; each runs again
// only when its own part changes (or, for the mesh, when the interface is gone): an apply
// that opens a port reloads the firewall and leaves WireGuard alone.
import { configHash } from '../state/config-hash.ts';
import { loadNftScript } from './nftables.ts';
import { bringUpInterface, interfaceRunning } from '../mesh/wireguard.ts';
import type { NodeNetwork } from '../protocol/node-network.ts';

export interface NetworkApplierOptions {
  /** This node's WireGuard private key file. */
  privateKeyFile: string;
  /** Where wireguard-go's pid and log files go. */
  meshDir: string;
  /** Off for a machine whose firewall Flotilla must not touch. */
  firewall: boolean;
}

export class NetworkApplier {
  /** What was last applied of each part: a new firewall (ports) must not touch the mesh. */
  private appliedMesh: string | undefined;
  private appliedFirewall: string | undefined;

  constructor(private readonly options: NetworkApplierOptions) {}

  async apply(network: NodeNetwork): Promise<void> {
    const { mesh } = network;
    const meshHash = configHash(mesh ?? null);
    const ref = mesh && { name: mesh.interface, stateDir: this.options.meshDir };
    const meshUp = ref === undefined || (await interfaceRunning(ref));
    if (mesh && ref && (meshHash !== this.appliedMesh || !meshUp)) {
      await bringUpInterface({
        ...ref,
        privateKeyFile: this.options.privateKeyFile,
        address: mesh.address,
        listenPort: mesh.listen_port,
        peers: mesh.peers.map((peer) => ({
          publicKey: peer.public_key,
          endpoint: peer.endpoint,
          allowedIps: peer.allowed_ips,
        })),
      });
    }
    this.appliedMesh = meshHash;
    const firewallHash = configHash(network.firewall);
    if (firewallHash === this.appliedFirewall) return;
    if (this.options.firewall && network.firewall !== '') await loadNftScript(network.firewall);
    this.appliedFirewall = firewallHash;
  }
}
