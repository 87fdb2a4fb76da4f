// `volumes:` (short `source:/target[:mode]` and long syntax) → `volumes: [source:/target[:ro]]`,
// bind paths made relative to the stack file, named volumes kept by name. File-based
// `configs:` are what Compose makes of them outside Swarm, read-only bind mounts, and
// become those. Anonymous volumes, tmpfs and mount options have no equivalent: listed.
import os from 'node:os';
import path from 'node:path';
import type { ServiceState } from './service-state.ts';
import type { MapNode, Node, Pos } from './tree.ts';

interface Mount {
  source?: string;
  target: string;
  readOnly: boolean;
  bind: boolean;
}

const DOCKER_SOCKETS = new Set(['/var/run/docker.sock', '/run/docker.sock']);
const IGNORED_MODES = new Set(['rw', 'nocopy', 'cached', 'delegated', 'consistent']);

/** `./data:/var/lib/data:ro`, `db:/var/lib/postgresql/data`, `/tmp/cache`. */
function parseShortVolume(
  state: ServiceState,
  text: string,
  at: Pos,
  path_: string,
): Mount | undefined {
  const parts = text.split(':');
  if (parts.length > 3) {
    state.context.note(
      'untranslated',
      at,
      path_,
      `${text}: expected source:/target[:mode]`,
      'a path with a colon (a Windows drive) cannot be mounted on a Linux node',
    );
    return undefined;
  }
  const [first, second, modes] = parts as [string, string?, string?];
  const mount: Mount =
    second === undefined
      ? { target: first, readOnly: false, bind: false }
      : { source: first, target: second, readOnly: false, bind: /^[./~]/.test(first) };
  for (const mode of (modes ?? '').split(',').filter(Boolean)) {
    if (mode === 'ro') mount.readOnly = true;
    else if (!IGNORED_MODES.has(mode))
      state.context.note(
        'untranslated',
        at,
        path_,
        `${text}: mount option "${mode}" is not carried over`,
        mode.toLowerCase() === 'z'
          ? 'on an SELinux node, label the directory for containers yourself (chcon -t container_file_t)'
          : 'Flotilla mounts read-write or read-only (:ro), nothing else',
      );
  }
  return mount;
}

function parseLongVolume(state: ServiceState, node: MapNode, path_: string): Mount | undefined {
  const { context } = state;
  const field = (key: string) => {
    const value = node.entries.get(key)?.value;
    return value === undefined ? undefined : context.text(value, `${path_}.${key}`);
  };
  const type = field('type') ?? 'volume';
  const target = field('target');
  if (type !== 'volume' && type !== 'bind') {
    context.note(
      'untranslated',
      node.pos,
      path_,
      `a ${type} mount has no equivalent`,
      type === 'tmpfs'
        ? 'Flotilla has no tmpfs mounts: the container writes to its own filesystem (or make it read_only and mount a volume)'
        : 'use a bind path or a named volume',
    );
    return undefined;
  }
  if (target === undefined) {
    context.malformed(node.pos, path_, 'a mount needs `target:`, the path in the container');
    return undefined;
  }
  const readOnlyNode = node.entries.get('read_only')?.value;
  const mount: Mount = {
    target,
    readOnly:
      readOnlyNode === undefined
        ? false
        : context.bool(readOnlyNode, `${path_}.read_only`) === true,
    bind: type === 'bind',
  };
  const source = field('source');
  if (source !== undefined) mount.source = source;
  for (const key of ['bind', 'volume', 'tmpfs', 'consistency', 'image']) {
    const entry = node.entries.get(key);
    if (entry && !(key === 'bind' && onlyCreatesHostPath(entry.value)))
      context.note(
        'untranslated',
        entry.keyPos,
        `${path_}.${key}`,
        `mount options under \`${key}\` are not carried over`,
        'Flotilla mounts a source at a target, read-write or read-only',
      );
  }
  return mount;
}

/** `bind: { create_host_path: true }` is what Docker does anyway. */
function onlyCreatesHostPath(node: Node): boolean {
  return node.kind === 'map' && [...node.entries.keys()].every((key) => key === 'create_host_path');
}

function addMount(state: ServiceState, mount: Mount, at: Pos, path_: string, text: string): void {
  const { context } = state;
  if (!mount.target.startsWith('/') || mount.target.includes(':')) {
    context.malformed(at, path_, `${text}: the container path must be absolute`);
    return;
  }
  if (mount.source === undefined || mount.source === '') {
    context.note(
      'untranslated',
      at,
      path_,
      `${text}: an anonymous volume has no equivalent`,
      `give it a name to keep its data, e.g. ${state.draft.name}-data:${mount.target}`,
    );
    return;
  }
  let source = mount.source;
  if (mount.bind) {
    if (source === '~' || source.startsWith('~/')) {
      source = path.join(os.homedir(), source.slice(1));
      context.note(
        'changed',
        at,
        path_,
        `${text}: ~ is this machine's home directory, ${os.homedir()}; check it on the node`,
      );
    } else {
      source = context.relocate(source, at);
    }
  }
  if (source.includes(':')) {
    context.malformed(at, path_, `${text}: a source with a colon cannot be mounted`);
    return;
  }
  if (DOCKER_SOCKETS.has(source))
    context.note(
      'changed',
      at,
      path_,
      `${text}: the container gets the Docker Engine's socket, and with it every container on the node and root on the node`,
      'keep it only for a service that must manage containers, and trust it as root',
    );
  state.draft.push('volumes', `${source}:${mount.target}${mount.readOnly ? ':ro' : ''}`, at);
}

export function mapVolumes(state: ServiceState): void {
  const entry = state.entry('volumes');
  if (entry) {
    const path_ = state.path('volumes');
    if (entry.value.kind !== 'seq') {
      state.context.malformed(entry.value.pos, path_, 'expected a list of mounts');
    } else {
      entry.value.items.forEach((item, index) => {
        const itemPath = `${path_}[${index}]`;
        if (item.kind === 'map') {
          const mount = parseLongVolume(state, item, itemPath);
          if (mount) addMount(state, mount, item.pos, itemPath, 'this mount');
          return;
        }
        const text = state.context.expectText(item, itemPath, 'a mount');
        const mount = text && parseShortVolume(state, text, item.pos, itemPath);
        if (mount) addMount(state, mount, item.pos, itemPath, text);
      });
    }
  }
  mapConfigs(state);
}

/** Compose mounts a file-based config read-only at its target (default `/<name>`). */
function mapConfigs(state: ServiceState): void {
  const { context } = state;
  state.eachReference('configs', 'a config name', (name, item, itemPath) => {
    const targetNode = item.kind === 'map' ? item.entries.get('target')?.value : undefined;
    const written = targetNode && context.text(targetNode, `${itemPath}.target`);
    const target =
      written === undefined ? `/${name}` : written.startsWith('/') ? written : `/${written}`;
    const declared = state.names.top.configs?.entries.get(name)?.value;
    const fileNode = declared?.kind === 'map' ? declared.entries.get('file')?.value : undefined;
    const file = fileNode && context.text(fileNode, `configs.${name}.file`);
    if (file === undefined) {
      context.note(
        'untranslated',
        item.pos,
        itemPath,
        `config ${name} is not a file (content, environment or external): it has no equivalent`,
        `write it to a file and mount it: volumes: ['./${name}:${target}:ro']`,
      );
      return;
    }
    for (const key of ['uid', 'gid', 'mode'])
      if (item.kind === 'map' && item.entries.has(key))
        context.note(
          'untranslated',
          item.entries.get(key)!.keyPos,
          `${itemPath}.${key}`,
          `the mounted file keeps its own ${key === 'mode' ? 'mode' : 'owner'}`,
          'set it on the file itself',
        );
    addMount(
      state,
      { source: file, target, readOnly: true, bind: true },
      fileNode!.pos,
      itemPath,
      `config ${name}`,
    );
    context.note(
      'changed',
      item.pos,
      itemPath,
      `config ${name} is mounted read-only from ${file}, as Compose does outside Swarm`,
    );
  });
}
