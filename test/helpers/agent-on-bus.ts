// One node's real agent on a real nats-server with the cluster's permissions, and the hub's
// side of the link (HubLink with the hub's signing key and credentials): for tests of what
// the agent answers the hub and what it publishes, without the whole hub.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { NatsConnection } from 'nats';
import { Agent } from '../../src/agent/agent.ts';
import { AgentLink } from '../../src/bus/agent-link.ts';
import { closeConnection, connectNats } from '../../src/bus/connection.ts';
import { busUsers, ensureCredentials } from '../../src/bus/credentials.ts';
import { HubLink } from '../../src/bus/hub-link.ts';
import { startBusServer, type BusServer } from '../../src/bus/server.ts';
import { HubSigningKey } from '../../src/protocol/signing.ts';

export interface AgentOnBus {
  dir: string;
  node: string;
  agent: Agent;
  /** The hub's connection: what the hub (or whoever holds its credentials) publishes. */
  hub: NatsConnection;
  hubLink: HubLink;
  signer: HubSigningKey;
  /** Tears down link, agent, connections, server and temp dir. */
  stop(): Promise<void>;
}

export async function startAgentOnBus(node = 'b', stack = 'mon'): Promise<AgentOnBus> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'flotilla-agent-on-bus-'));
  let server: BusServer | undefined;
  const connections: NatsConnection[] = [];
  let agent: Agent | undefined;
  let hubLink: HubLink | undefined;
  const stop = async () => {
    hubLink?.close();
    await agent?.stopAll();
    for (const connection of connections) await closeConnection(connection);
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const credentials = await ensureCredentials(path.join(dir, 'bus'), [node]);
    server = await startBusServer({ dir: path.join(dir, 'bus'), users: busUsers(credentials) });
    const hub = await connectNats({ url: server.url, ...credentials.hub, name: 'hub' });
    connections.push(hub);
    const agentConnection = await connectNats({
      url: server.url,
      ...credentials.agents[node]!,
      name: `agent ${node}`,
    });
    connections.push(agentConnection);
    const signer = await HubSigningKey.loadOrCreate(path.join(dir, 'hub', 'signing.key'));
    agent = new Agent({
      node,
      link: new AgentLink(agentConnection, node),
      hubKey: signer.publicKey,
      stack,
      stateDir: path.join(dir, `state-${node}`),
      log: () => {},
    });
    await agent.start();
    await agentConnection.flush();
    hubLink = new HubLink(hub, signer);
    return { dir, node, agent, hub, hubLink, signer, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
