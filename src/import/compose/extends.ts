// `extends`: a service built on another one, in the same file (`extends: base` or
// `extends: { service: base }`) or in another (`extends: { file: common.yml, service:
// base }`, the path relative to the file that says it). The base is resolved first (it
// may extend too), then the service is merged over it (merge.ts). Relative paths in the
// base stay relative to the base's own file: every value knows the file it came from.
import path from 'node:path';
import { ImportError } from '../errors.ts';
import type { ComposeContext } from './context.ts';
import { mergeService } from './merge.ts';
import { readComposeFile, type MapNode, type Node, type Pos } from './tree.ts';

export class ExtendsResolver {
  /** Other Compose files read for `extends`, by absolute path: each is read once. */
  private readonly files = new Map<string, Promise<MapNode>>();

  constructor(
    private readonly context: ComposeContext,
    private readonly rootFile: string,
    private readonly rootServices: MapNode,
  ) {
    this.files.set(path.resolve(rootFile), Promise.resolve(rootServices));
  }

  /** The service with its `extends` chain merged in, without the `extends` key. */
  async resolve(name: string, service: MapNode): Promise<MapNode> {
    return this.resolveIn(this.rootFile, name, service, []);
  }

  private async resolveIn(
    file: string,
    name: string,
    service: MapNode,
    chain: string[],
  ): Promise<MapNode> {
    const id = `${path.resolve(file)}#${name}`;
    if (chain.includes(id))
      throw new ImportError(
        `\`extends\` loops: ${[...chain, id].map((link) => link.split('#')[1]).join(' → ')}`,
        'one of these services must stop extending the others',
        service.pos,
      );
    const extendsEntry = service.entries.get('extends');
    if (extendsEntry === undefined) return service;
    const { baseFile, baseName, at } = this.target(file, name, extendsEntry.value);
    const services = await this.servicesOf(baseFile, at);
    const base = services.entries.get(baseName)?.value;
    if (base === undefined)
      throw new ImportError(
        `\`extends\` names service \`${baseName}\`, which ${baseFile === file ? 'this file' : baseFile} does not define`,
        `services there: ${[...services.entries.keys()].join(', ') || 'none'}`,
        at,
      );
    if (base.kind !== 'map')
      throw new ImportError(`service \`${baseName}\` is not a mapping`, undefined, base.pos);
    const resolvedBase = await this.resolveIn(baseFile, baseName, base, [...chain, id]);
    const own: MapNode = { ...service, entries: new Map(service.entries) };
    own.entries.delete('extends');
    return mergeService(resolvedBase, own);
  }

  private target(
    file: string,
    name: string,
    value: Node,
  ): { baseFile: string; baseName: string; at: Pos } {
    const where = `services.${name}.extends`;
    if (value.kind === 'scalar') {
      const baseName = this.context.text(value, where);
      if (baseName !== undefined) return { baseFile: file, baseName, at: value.pos };
    } else if (value.kind === 'map') {
      const serviceNode = value.entries.get('service')?.value;
      const fileNode = value.entries.get('file')?.value;
      const baseName = serviceNode && this.context.text(serviceNode, `${where}.service`);
      if (baseName !== undefined) {
        const written = fileNode && this.context.text(fileNode, `${where}.file`);
        const baseFile = written === undefined ? file : path.join(path.dirname(file), written);
        return { baseFile, baseName, at: serviceNode!.pos };
      }
    }
    throw new ImportError(
      '`extends` needs the service to extend',
      'write `extends: base`, or `extends: { service: base, file: other.yml }`',
      value.pos,
    );
  }

  /** The `services:` mapping of a Compose file, read once. */
  private servicesOf(file: string, at: Pos): Promise<MapNode> {
    const absolute = path.resolve(file);
    let services = this.files.get(absolute);
    if (services === undefined) {
      services = readServices(file, at);
      this.files.set(absolute, services);
    }
    return services;
  }
}

async function readServices(file: string, at: Pos): Promise<MapNode> {
  let root: Node;
  try {
    root = await readComposeFile(file);
  } catch (error) {
    // "no such file" is about the extends that named it.
    if (error instanceof ImportError && error.at === undefined)
      throw new ImportError(`\`extends\`: ${error.message}`, error.hint, at);
    throw error;
  }
  const services = root.kind === 'map' ? root.entries.get('services')?.value : undefined;
  if (services?.kind !== 'map')
    throw new ImportError(`${file} has no \`services:\` mapping to extend`, undefined, at);
  return services;
}
