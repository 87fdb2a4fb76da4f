// Is an engine there, and which one: ping (with the API version check), version and the
// facts about the daemon the runtime and the fixtures need (storage driver, cgroups).
import { z } from 'zod';
import { EngineError } from './errors.ts';
import { API_VERSION, type EngineTransport } from './transport.ts';

export interface EngineVersion {
  version: string;
  apiVersion: string;
  minApiVersion: string;
  os: string;
  arch: string;
  kernelVersion: string;
}

export interface EngineInfo {
  serverVersion: string;
  /** overlay2, vfs, … */
  storageDriver: string;
  cgroupVersion: string;
  cgroupDriver: string;
  dockerRootDir: string;
  containersRunning: number;
}

const versionSchema = z.object({
  Version: z.string(),
  ApiVersion: z.string(),
  MinAPIVersion: z.string(),
  Os: z.string(),
  Arch: z.string(),
  KernelVersion: z.string(),
});

const infoSchema = z.object({
  ServerVersion: z.string(),
  Driver: z.string(),
  CgroupVersion: z.string().default(''),
  CgroupDriver: z.string().default(''),
  DockerRootDir: z.string(),
  ContainersRunning: z.number(),
});

function olderThan(version: string, wanted: string): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  const [wantedMajor = 0, wantedMinor = 0] = wanted.split('.').map(Number);
  return major < wantedMajor || (major === wantedMajor && minor < wantedMinor);
}

export class System {
  constructor(private readonly transport: EngineTransport) {}

  /**
   * Resolves when the engine answers and speaks our API version; EngineUnavailableError when
   * nothing listens on the socket.
   */
  async ping(signal?: AbortSignal): Promise<void> {
    const response = await this.transport.open({ method: 'GET', path: '/_ping', signal });
    response.resume();
    const apiVersion = response.headers['api-version'];
    if (typeof apiVersion === 'string' && olderThan(apiVersion, API_VERSION)) {
      throw new EngineError(
        `the Docker Engine speaks API ${apiVersion}; Flotilla needs ${API_VERSION}`,
        {
          hint: 'upgrade Docker to 20.10 or newer (Debian 12: apt install docker.io)',
        },
      );
    }
  }

  async version(signal?: AbortSignal): Promise<EngineVersion> {
    const raw = await this.transport.json(versionSchema, {
      method: 'GET',
      path: '/version',
      signal,
    });
    return {
      version: raw.Version,
      apiVersion: raw.ApiVersion,
      minApiVersion: raw.MinAPIVersion,
      os: raw.Os,
      arch: raw.Arch,
      kernelVersion: raw.KernelVersion,
    };
  }

  async info(signal?: AbortSignal): Promise<EngineInfo> {
    const raw = await this.transport.json(infoSchema, { method: 'GET', path: '/info', signal });
    return {
      serverVersion: raw.ServerVersion,
      storageDriver: raw.Driver,
      cgroupVersion: raw.CgroupVersion,
      cgroupDriver: raw.CgroupDriver,
      dockerRootDir: raw.DockerRootDir,
      containersRunning: raw.ContainersRunning,
    };
  }
}
