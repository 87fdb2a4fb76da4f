// Brings this node's mesh interface (WireGuard; on a tailnet, Tailscale keeps it) and
// firewall to what the hub's desired state says. Both steps are idempotent; they run again
// only when the network changes or the interface is gone.
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
  private applied: string | undefined;

  constructor(private readonly options: NetworkApplierOptions) {}

  async apply(network: NodeNetwork): Promise<void> {
    const hash = configHash(network);
    const { mesh } = network;
    const ref = mesh && { name: mesh.interface, stateDir: this.options.meshDir };
    const meshUp = ref === undefined || (await interfaceRunning(ref));
    if (hash === this.applied && meshUp) return;
    if (mesh && ref)
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
    if (this.options.firewall && network.firewall !== '') await loadNftScript(network.firewall);
    this.applied = hash;
  }
}
