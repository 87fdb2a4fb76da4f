// A process of simulated agents for bench/cluster-sim (sim-agent.ts): one NATS connection per
// node with that node's own credentials, so nats-server sees as many clients as a real
// cluster has. The bench calls it over IPC (rpc-child.ts) to start them, to cut one off and
// bring it back, and to learn when a gateway's route config dropped or regained upstreams.
import type { NatsConnection } from 'nats';
import { closeConnection, connectNats } from '../../src/bus/connection.ts';
import { serveRpc } from './rpc-child.ts';
import { SimAgent, type GatewayArrival, type SimAgentCounts } from './sim-agent.ts';

export interface SimNode {
  node: string;
  user: string;
  pass: string;
  gateway: boolean;
}

export interface SimAgentsOptions {
  url: string;
  hubKey: string;
  stack: string;
  healthyAfterMs: number;
  nodes: SimNode[];
}

/** Connections opened at once: a burst of 100 logins is not what a cluster's start looks like. */
const CONNECT_BATCH = 10;
/** Gateway configs kept per gateway, newest last. */
const ARRIVALS_KEPT = 500;

const agents = new Map<string, SimAgent>();
const connections: NatsConnection[] = [];
const arrivals = new Map<string, GatewayArrival[]>();
const arrivalListeners = new Set<(gateway: string, arrival: GatewayArrival) => void>();

function agent(node: string): SimAgent {
  const found = agents.get(node);
  if (!found) throw new Error(`no simulated agent for ${node} here`);
  return found;
}

function recordArrival(gateway: string, arrival: GatewayArrival): void {
  const list = arrivals.get(gateway) ?? [];
  list.push(arrival);
  if (list.length > ARRIVALS_KEPT) list.shift();
  arrivals.set(gateway, list);
  for (const listener of arrivalListeners) listener(gateway, arrival);
}

serveRpc({
  /** Connects and starts every node's agent; resolves with the ms it took. */
  async start(options: SimAgentsOptions): Promise<number> {
    const started = performance.now();
    for (let index = 0; index < options.nodes.length; index += CONNECT_BATCH) {
      await Promise.all(
        options.nodes.slice(index, index + CONNECT_BATCH).map(async (node) => {
          const connection = await connectNats({
            url: options.url,
            user: node.user,
            pass: node.pass,
            name: `sim agent ${node.node}`,
          });
          connections.push(connection);
          const simulated = new SimAgent({
            node: node.node,
            connection,
            hubKey: options.hubKey,
            stack: options.stack,
            gateway: node.gateway,
            healthyAfterMs: options.healthyAfterMs,
            pidBase: 10_000 + 1_000 * Number(node.node.replace(/\D/g, '')),
            ...(node.gateway
              ? { onGateway: (arrival: GatewayArrival) => recordArrival(node.node, arrival) }
              : {}),
          });
          agents.set(node.node, simulated);
          simulated.start();
        }),
      );
    }
    return performance.now() - started;
  },

  cutOff(node: string, afterHeartbeat: boolean): Promise<number> {
    return agent(node).cutOff(afterHeartbeat);
  },

  reconnect(node: string): Promise<number> {
    return agent(node).reconnect();
  },

  /**
   * When `gateway` first received, at or after `since`, a route config with none of `dials`
   * (present false) or all of them (present true); undefined after `timeoutMs`.
   */
  gatewayWhen(
    gateway: string,
    dials: string[],
    present: boolean,
    since: number,
    timeoutMs: number,
  ): Promise<number | undefined> {
    agent(gateway);
    const fits = (arrival: GatewayArrival) =>
      arrival.at >= since &&
      (present
        ? dials.every((dial) => arrival.dials.has(dial))
        : dials.every((dial) => !arrival.dials.has(dial)));
    const seen = (arrivals.get(gateway) ?? []).find(fits);
    if (seen) return Promise.resolve(seen.at);
    return new Promise((resolve) => {
      const listener = (from: string, arrival: GatewayArrival) => {
        if (from !== gateway || !fits(arrival)) return;
        done(arrival.at);
      };
      const timer = setTimeout(() => done(undefined), timeoutMs);
      const done = (at: number | undefined) => {
        clearTimeout(timer);
        arrivalListeners.delete(listener);
        resolve(at);
      };
      arrivalListeners.add(listener);
    });
  },

  /** Totals over this process's agents. */
  counts(): SimAgentCounts {
    const total: SimAgentCounts = {
      received: { desired: 0, gateway: 0, directory: 0, request: 0, duplicate: 0 },
      unchanged: { desired: 0, gateway: 0, directory: 0 },
      refused: 0,
      reports: 0,
      heartbeats: 0,
      events: 0,
    };
    for (const { counts } of agents.values()) {
      for (const kind of Object.keys(total.received) as (keyof SimAgentCounts['received'])[])
        total.received[kind] += counts.received[kind];
      for (const kind of Object.keys(total.unchanged) as (keyof SimAgentCounts['unchanged'])[])
        total.unchanged[kind] += counts.unchanged[kind];
      total.refused += counts.refused;
      total.reports += counts.reports;
      total.heartbeats += counts.heartbeats;
      total.events += counts.events;
    }
    return total;
  },

  async stop(): Promise<void> {
    for (const simulated of agents.values()) simulated.close();
    await Promise.all(connections.map((connection) => closeConnection(connection).catch(() => {})));
  },
});
