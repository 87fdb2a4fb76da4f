// `flotilla agent`: one node of a cluster. Brings up its end of the mesh (reaching the hub
// first), connects to the bus on the hub's mesh address with its own credentials, and runs
// the agent. Services keep running while the hub is away; SIGTERM leaves them running for
// the next agent to adopt; the hub's `down` (or `node rm`) stops them and ends the process.
import { clearAgentPid, recordAgentPid } from '../node/agent-pid.ts';
import { Agent } from '../agent/agent.ts';
import { SYSTEM_HOSTS_FILE } from '../agent/hosts-file.ts';
import { NetworkApplier } from '../agent/network-applier.ts';
import { AgentLink } from '../bus/agent-link.ts';
import { closeConnection, connectNats } from '../bus/connection.ts';
import type { NatsConnection } from 'nats';
import type { JoinAnswer } from '../hub/join-protocol.ts';
import { interfaceRunning } from '../mesh/wireguard.ts';
import { ensureStateDir } from '../state/state-dir.ts';
import { agentPaths, joinHub, readMembership, type JoinOptions } from './membership.ts';

export class NotJoined extends Error {}

export interface AgentDaemonOptions {
  stateDir: string;
  join?: JoinOptions;
  log: (line: string) => void;
}

export class AgentDaemon {
  private connection: NatsConnection | undefined;
  private agent: Agent | undefined;
  private stopping = false;
  private finished!: () => void;
  readonly done = new Promise<void>((resolve) => (this.finished = resolve));

  constructor(private readonly options: AgentDaemonOptions) {}

  async start(): Promise<JoinAnswer> {
    await ensureStateDir(this.options.stateDir);
    const paths = agentPaths(this.options.stateDir);
    const membership = this.options.join
      ? await joinHub(paths, this.options.join)
      : await readMembership(paths);
    if (!membership)
      throw new NotJoined(
        'this node has not joined a hub yet: run `flotilla node token` on the hub, then `flotilla agent --join <token>` here',
      );
    const applier = new NetworkApplier({
      privateKeyFile: paths.wireguardKey,
      meshDir: paths.meshDir,
      firewall: true,
    });
    const { mesh } = membership;
    // A running interface already has the whole peer set: only a fresh one starts from the hub.
    if (mesh && !(await interfaceRunning({ name: mesh.interface, stateDir: paths.meshDir })))
      await applier.apply({
        mesh: {
          interface: mesh.interface,
          address: mesh.address,
          listen_port: mesh.listen_port,
          peers: [{ node: 'hub', ...mesh.hub }],
        },
        firewall: '',
      });
    this.options.log(`connecting to the bus at ${membership.bus.url} over the mesh`);
    // The hub may be restarting or the tunnel still handshaking: wait for it.
    this.connection = await connectNats({
      url: membership.bus.url,
      user: membership.bus.user,
      pass: membership.bus.pass,
      name: `agent ${membership.node}`,
      waitForServer: true,
    });
    this.agent = new Agent({
      node: membership.node,
      link: new AgentLink(this.connection, membership.node),
      hubKey: membership.hub_signing_key,
      stack: membership.stack,
      stateDir: this.options.stateDir,
      network: applier,
      hostsFile: SYSTEM_HOSTS_FILE,
      gateway: membership.gateway,
      onLeft: () => void this.shutdown(),
      log: this.options.log,
    });
    await this.agent.start();
    // For `flotilla node leave`: it stops this very process, never one found by name.
    await recordAgentPid(this.options.stateDir);
    return membership;
  }

  /** Leaves every service running for the next agent to adopt. */
  async detach(): Promise<void> {
    if (this.stopping) return this.done;
    this.stopping = true;
    await this.agent?.detach();
    await this.shutdown();
  }

  private async shutdown(): Promise<void> {
    this.stopping = true;
    await clearAgentPid(this.options.stateDir).catch(() => undefined);
    if (this.connection) await closeConnection(this.connection).catch(() => {});
    this.finished();
  }
}
