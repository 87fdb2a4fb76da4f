// One Compose service while it is being translated: its (merged) mapping, the draft
// Flotilla service it becomes, and what the project knows that a mapping may need (the
// names other services, networks and secrets were given).
import { ServiceDraft } from '../stack-draft.ts';
import type { ComposeContext } from './context.ts';
import type { Entry, MapNode, Node, Pos } from './tree.ts';

export interface ProjectNames {
  /** Compose service → Flotilla service, for the services imported. */
  services: Map<string, string>;
  /** Compose services not imported, with why (a profile, a reverse proxy, no replicas). */
  leftOut: Map<string, string>;
  /** Compose network → Flotilla segment, for the declared networks. */
  networks: Map<string, string>;
  /** Compose secret → Flotilla secret name. */
  secrets: Map<string, string>;
  /** Top-level mappings a service's keys refer to. */
  top: { secrets?: MapNode; configs?: MapNode; networks?: MapNode; volumes?: MapNode };
}

/** A port the service declares, with what the import learnt about it. */
export interface DeclaredPort {
  name: string;
  /** The port the container listens on. */
  port: number;
  /**
   * The node's port it is published on (`ports:` in the stack): the one Compose published,
   * else the container's; host-ports.ts moves it off a port something else holds.
   */
  host: number;
  at: Pos;
  /** The Compose key it came from (`services.web.ports[0]`), for notes. */
  path: string;
  /** `8080` for `8080:80`: Compose published it on the host (the internet, unless bound). */
  published?: string;
  http: boolean;
}

export class ServiceState {
  readonly draft: ServiceDraft;
  readonly ports: DeclaredPort[] = [];
  /** The image (interpolated), once read. */
  image?: string;
  /** No restart policy was written: Compose's default (never) was used. */
  restartDefaulted = false;

  constructor(
    readonly context: ComposeContext,
    readonly composeName: string,
    readonly node: MapNode,
    readonly names: ProjectNames,
    /** The service's key in the Compose file. */
    readonly at: Pos,
  ) {
    this.draft = new ServiceDraft(names.services.get(composeName) ?? composeName, at);
  }

  path(key: string): string {
    return `services.${this.composeName}.${key}`;
  }

  entry(key: string): Entry | undefined {
    return this.node.entries.get(key);
  }

  /**
   * Each item of a list of named references (`secrets:`, `configs:`), in the short form
   * (`- name`) or the long one (`- source: name`); a key that is not a list, and an item
   * without a name, are reported instead.
   */
  eachReference(
    key: string,
    what: string,
    visit: (name: string, item: Node, itemPath: string) => void,
  ): void {
    const entry = this.entry(key);
    if (!entry) return;
    const path = this.path(key);
    if (entry.value.kind !== 'seq') {
      this.context.malformed(entry.value.pos, path, `expected a list of ${key}`);
      return;
    }
    entry.value.items.forEach((item, index) => {
      const itemPath = `${path}[${index}]`;
      const source = item.kind === 'map' ? item.entries.get('source')?.value : item;
      const name = source && this.context.expectText(source, itemPath, what);
      if (name !== undefined) visit(name, item, itemPath);
    });
  }

  /**
   * Declares a port unless one with that number is declared already; returns its name.
   * The stack's `ports` and `container_ports` are written once every service has its
   * node port (host-ports.ts).
   */
  declarePort(
    port: Omit<DeclaredPort, 'name' | 'host'> & { host?: number },
    wanted: string,
  ): string {
    const existing = this.ports.find((declared) => declared.port === port.port);
    if (existing) return existing.name;
    const taken = new Set(this.ports.map((declared) => declared.name));
    // A second `http` is `http-8081`: the number says which one it is.
    let name = taken.has(wanted) ? `${wanted}-${port.port}` : wanted;
    for (let n = 2; taken.has(name); n++) name = `${wanted}-${port.port}-${n}`;
    this.ports.push({ ...port, host: port.host ?? port.port, name });
    return name;
  }

  /** The replicas written for the service (they share its one node, on consecutive ports). */
  get replicas(): number {
    return (this.draft.fields.replicas as number | undefined) ?? 1;
  }
}
