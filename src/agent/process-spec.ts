// From a desired instance to the exact process the supervisor runs: argv and environment
// rendered here, on the node, where secrets may be filled in. The environment is explicit:
// a fixed PATH, the user's HOME, the service's env files, its declared env and Flotilla's
// discovery variables — never the agent's own environment. Secrets go into the environment
// or files only: a command line (the service's, or its exec health check's) is readable
// by every local user in /proc/<pid>/cmdline, so a secret there is refused.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { DesiredInstance } from '../plan/desired.ts';
import { parseDuration } from '../spec/formats.ts';
import { renderTemplate } from '../spec/interpolation.ts';
import type { HealthCheck } from '../spec/schema.ts';
import { parseEnvFile } from '../system/env-file.ts';
import type { ProcessSpec } from './process/supervisor.ts';
import { resolveUser } from '../system/users.ts';

export const SERVICE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Secret values available on this node, by name. */
export type SecretLookup = (name: string) => string | undefined;

export class InstanceSpecError extends Error {}

export interface AgentPaths {
  /** Where secret files go: memory-backed (/run) so they never reach a disk. */
  secretFiles: string;
  /** Instance records (what runs, to adopt it after an agent restart). */
  instances: string;
  logs: string;
}

/** The directory of one instance's secret files (see secret-files.ts). */
export function secretDir(paths: AgentPaths, instance: string): string {
  return path.join(paths.secretFiles, instance);
}

export function secretFilePath(paths: AgentPaths, instance: string, name: string): string {
  return path.join(secretDir(paths, instance), name);
}

/** Fills in what plan left for the node (secrets); a command line never gets one. */
function renderer(instance: DesiredInstance, secrets: SecretLookup) {
  return (text: string, where: 'env' | 'argv') =>
    renderTemplate(text, (ref) => {
      if (ref.kind !== 'secret')
        throw new InstanceSpecError(`unresolved reference in ${instance.id}`);
      if (where === 'argv')
        throw new InstanceSpecError(
          `${instance.id}: secret ${ref.name} on a command line would be readable by every local user (/proc/<pid>/cmdline): pass it in env or secret_files`,
        );
      const value = secrets(ref.name);
      if (value === undefined)
        throw new InstanceSpecError(
          `secret ${ref.name} is not set (flotilla secrets set ${ref.name})`,
        );
      return value;
    });
}

/**
 * The instance's health check as it runs: an exec check's argv rendered like the command
 * (plan keeps a literal `${` escaped as `$${`), a secret in it refused.
 */
export function healthCheckFor(instance: DesiredInstance): HealthCheck | undefined {
  const { health } = instance;
  if (!health?.exec) return health;
  const render = renderer(instance, () => undefined);
  return { ...health, exec: { command: health.exec.command.map((arg) => render(arg, 'argv')) } };
}

export function processSpecFor(
  instance: DesiredInstance,
  paths: AgentPaths,
  secrets: SecretLookup,
): ProcessSpec {
  const runtime = instance.runtime;
  if (runtime.kind !== 'process') {
    throw new InstanceSpecError(
      `${instance.id} is a container: the container runtime is not available yet`,
    );
  }
  const render = renderer(instance, secrets);
  const home = runtime.user === undefined ? '/root' : resolveUser(runtime.user).home;
  const fromFiles: Record<string, string> = {};
  for (const file of runtime.env_files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new InstanceSpecError(
        `env file ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
      );
    }
    Object.assign(fromFiles, parseEnvFile(text, path.basename(file)));
  }
  const declared = Object.fromEntries(
    Object.entries(instance.env).map(([key, value]) => [key, render(value, 'env')]),
  );
  const env = {
    PATH: SERVICE_PATH,
    HOME: home,
    ...fromFiles,
    ...declared,
    FLOTILLA_SERVICE: instance.service,
    FLOTILLA_INSTANCE: instance.id,
    FLOTILLA_NODE: instance.node,
    ...Object.fromEntries(
      instance.secret_files.map((name) => [
        `${name}_FILE`,
        secretFilePath(paths, instance.id, name),
      ]),
    ),
  };
  const spec: ProcessSpec = {
    id: instance.id,
    command: runtime.command.map((arg) => render(arg, 'argv')),
    cwd: runtime.cwd,
    env,
    stop: {
      signal: instance.stop.signal,
      timeoutMs: parseDuration(instance.stop.timeout) ?? 10_000,
    },
    restart: instance.restart,
    logDir: paths.logs,
    stateDir: paths.instances,
  };
  if (runtime.user !== undefined) spec.user = runtime.user;
  return spec;
}
