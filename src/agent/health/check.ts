// From a stack file's `health:` block to a runnable probe for one instance: picks the
// kind, resolves the named port (default: the instance's first) and the durations. An
// exec check runs as the instance itself does: its user, environment and directory.
import { durationMs } from '../../spec/formats.ts';
import type { HealthCheck } from '../../spec/schema.ts';
import { resolveUser } from '../../system/users.ts';
import { probeExec } from './exec.ts';
import { probeHttp } from './http.ts';
import { probePostgres } from './postgres.ts';
import type { ProbeResult } from '../../monitoring/deadline.ts';
import { describeError } from '../../system/network-errors.ts';
import type { Probe } from './probe.ts';
import { probeRedis } from './redis.ts';
import { probeTcp } from './tcp.ts';

/** What a check needs to know about the instance it checks. */
export interface CheckTarget {
  ports: Record<string, number>;
  /** The instance's resolved environment (secrets filled in), for exec checks. */
  env: Record<string, string>;
  /** The instance's working directory, for exec checks. */
  cwd: string;
  /** The instance's `user` (`name` or `name:group`), for exec checks; unset: the agent's. */
  user?: string;
  /** Runs an exec check where the instance runs (inside its container); unset: on the host. */
  exec?: (command: string[], timeoutMs: number, signal?: AbortSignal) => Promise<ProbeResult>;
}

export interface CheckTiming {
  intervalMs: number;
  timeoutMs: number;
  healthyThreshold: number;
  unhealthyThreshold: number;
}

export function checkTiming(check: HealthCheck): CheckTiming {
  return {
    intervalMs: durationMs(check.interval),
    timeoutMs: durationMs(check.timeout),
    healthyThreshold: check.healthy_threshold,
    unhealthyThreshold: check.unhealthy_threshold,
  };
}

export function healthProbe(check: HealthCheck, target: CheckTarget): Probe {
  const { timeoutMs } = checkTiming(check);
  const withPort =
    (name: string | undefined, run: (port: number, signal?: AbortSignal) => Promise<ProbeResult>) =>
    (signal?: AbortSignal): Promise<ProbeResult> => {
      const port = name === undefined ? Object.values(target.ports)[0] : target.ports[name];
      if (port !== undefined) return run(port, signal);
      const detail = name === undefined ? 'the instance declares no port' : `no port named ${name}`;
      return Promise.resolve({ ok: false, detail });
    };
  if (check.http) {
    const { path, port, status } = check.http;
    return withPort(port, (resolved, signal) =>
      probeHttp({ port: resolved, path, statuses: status, timeoutMs, signal }),
    );
  }
  if (check.tcp) {
    return withPort(check.tcp.port, (port, signal) => probeTcp({ port, timeoutMs, signal }));
  }
  if (check.postgres) {
    const { port, user, database } = check.postgres;
    return withPort(port, (resolved, signal) =>
      probePostgres({ port: resolved, user, database, timeoutMs, signal }),
    );
  }
  if (check.redis) {
    return withPort(check.redis.port, (port, signal) => probeRedis({ port, timeoutMs, signal }));
  }
  if (check.exec) {
    const { command } = check.exec;
    const { env, cwd, exec } = target;
    if (exec) return (signal) => exec(command, timeoutMs, signal);
    return (signal) => {
      let user;
      try {
        // Looked up on every probe, like the supervisor on every start: never a stale uid.
        user = target.user === undefined ? undefined : resolveUser(target.user);
      } catch (error) {
        return Promise.resolve({ ok: false, detail: describeError(error) });
      }
      return probeExec({ command, env, cwd, timeoutMs, signal, ...(user && { user }) });
    };
  }
  throw new Error('a health check needs one of: http, tcp, exec, postgres, redis');
}
