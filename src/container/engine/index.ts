// The Docker Engine client the container runtime uses: one object per engine socket, with
// one part per concept. Everything it reads from the engine is checked with zod; every
// failure is an EngineError subclass with a hint (see errors.ts).
import { Containers } from './containers.ts';
import { Events } from './events.ts';
import { Exec } from './exec.ts';
import { Images } from './images.ts';
import { Logs } from './logs.ts';
import { Networks } from './networks.ts';
import { System } from './system.ts';
import { EngineTransport, type EngineTransportOptions } from './transport.ts';
import { Volumes } from './volumes.ts';

export class DockerEngine {
  readonly transport: EngineTransport;
  readonly system: System;
  readonly images: Images;
  readonly containers: Containers;
  readonly logs: Logs;
  readonly exec: Exec;
  readonly networks: Networks;
  readonly volumes: Volumes;
  readonly events: Events;

  constructor(options: EngineTransportOptions = {}) {
    this.transport = new EngineTransport(options);
    this.system = new System(this.transport);
    this.images = new Images(this.transport);
    this.containers = new Containers(this.transport);
    this.logs = new Logs(this.transport);
    this.exec = new Exec(this.transport);
    this.networks = new Networks(this.transport);
    this.volumes = new Volumes(this.transport);
    this.events = new Events(this.transport);
  }

  get socketPath(): string {
    return this.transport.socketPath;
  }
}

export * from './errors.ts';
export type * from './containers.ts';
export { createBody, engineTime } from './containers.ts';
export type { ContainerAction, ContainerEvent, ContainerEventOptions } from './events.ts';
export type { ExecOptions, ExecResult } from './exec.ts';
export { parseImageReference, pullReference, type ImageReference } from './image-reference.ts';
export type { ProgressListener, TransferProgress } from './image-transfer.ts';
export type {
  ExposedPort,
  ImageHealthcheck,
  ImageInfo,
  ImportOptions,
  PullOptions,
  PullResult,
} from './images.ts';
export type { LogLine, LogOptions } from './logs.ts';
export type { NetworkCreateOptions, NetworkInfo } from './networks.ts';
export type { RegistryAuth } from './registry-auth.ts';
export type { StdStream } from './stdio-stream.ts';
export type { EngineInfo, EngineVersion } from './system.ts';
export { API_VERSION, DEFAULT_SOCKET_PATH, type EngineTransportOptions } from './transport.ts';
export type { VolumeCreateOptions, VolumeInfo } from './volumes.ts';
