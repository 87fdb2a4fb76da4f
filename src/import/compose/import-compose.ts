// `flotilla import compose`: a Compose project → a stack file. Reads the file (anchors,
// merge keys, `extends`, the `.env` beside it), decides which services come (profiles,
// replicas, reverse proxies the gateway replaces), names everything by Flotilla's rules,
// maps each service, and hands back the stack text, checked by the stack loader, with
// the report of what did not carry over.
import path from 'node:path';
import { didYouMean } from '../../spec/suggest.ts';
import { ImportError } from '../errors.ts';
import { dnsName, unique } from '../names.ts';
import { ImportReport } from '../report.ts';
import type { ImportResult, StackDraft } from '../stack-draft.ts';
import { checkStack, renderStack } from '../write-stack.ts';
import { ComposeContext } from './context.ts';
import { readReplicas } from './deploy.ts';
import { ExtendsResolver } from './extends.ts';
import { assignHostPorts } from './host-ports.ts';
import { TOP_LEVEL_KEYS } from './keys.ts';
import { imageRepository, isReverseProxy } from './known-images.ts';
import { mapNetworks, nameNetworks } from './networks.ts';
import { nameSecrets } from './secrets.ts';
import { mapService } from './service.ts';
import { ServiceState, type ProjectNames } from './service-state.ts';
import { readComposeFile, type MapNode, type Node } from './tree.ts';
import { loadVariables } from './variables.ts';

export interface ComposeImportOptions {
  file: string;
  /** Where the stack file will be written; relative paths in it are made relative to it. */
  output?: string;
  /** The stack's name; default: the Compose project's name. */
  name?: string;
  /** Profiles to enable (`--profile`); `*` enables all. */
  profiles?: string[];
  /** The environment variables interpolate from (with the `.env` beside the file). */
  environment: Readonly<Record<string, string | undefined>>;
}

interface ComposeService {
  name: string;
  node: MapNode;
  at: Node['pos'];
}

export async function importCompose(options: ComposeImportOptions): Promise<ImportResult> {
  const file = options.file;
  const projectDir = path.dirname(path.resolve(file));
  const outputDir = path.dirname(
    path.resolve(options.output ?? path.join(process.cwd(), 'flotilla.yml')),
  );
  const variables = await loadVariables(projectDir, options.environment);
  const root = await readComposeFile(file);
  if (root.kind !== 'map')
    throw new ImportError(
      'a Compose file is a mapping with a `services:` key',
      undefined,
      root.pos,
    );
  const report = new ImportReport();
  const context = new ComposeContext(variables, report, outputDir);
  const stackName = options.name ?? projectName(context, root, projectDir, options.environment);
  context.project = stackName;
  topLevelKeys(context, root);
  const services = await readServices(context, file, root);
  const top = (key: string) => {
    const value = root.entries.get(key)?.value;
    return value?.kind === 'map' ? value : undefined;
  };
  const names: ProjectNames = {
    services: new Map(),
    leftOut: new Map(),
    networks: new Map(),
    secrets: new Map(),
    top: {
      secrets: top('secrets'),
      configs: top('configs'),
      networks: top('networks'),
      volumes: top('volumes'),
    },
  };
  const included = chooseServices(context, services, names, activeProfiles(options));
  nameNetworks(names.top.networks, names);
  nameSecrets(names.top.secrets, names);
  const draft: StackDraft = {
    name: stackName,
    source: path.relative(outputDir, path.resolve(file)) || file,
    command: 'flotilla import compose',
    networks: {},
    networkOrigins: new Map(),
    services: [],
  };
  const usedNetworks = new Set<string>();
  const states = included.map(
    (service) => new ServiceState(context, service.name, service.node, names, service.at),
  );
  for (const state of states) {
    mapService(state, usedNetworks);
    draft.services.push(state.draft);
  }
  assignHostPorts(states);
  unreachableDependencies(states);
  defaultRestarts(context, states);
  mapNetworks(context, names.top.networks, names, usedNetworks, draft);
  topLevelVolumes(context, names.top.volumes);
  const text = renderStack(draft);
  const stack = checkStack(text, draft, options.output ?? 'flotilla.yml');
  return { text, stack, report, draft };
}

/** Each service of the file, its `extends` merged in. */
async function readServices(
  context: ComposeContext,
  file: string,
  root: MapNode,
): Promise<ComposeService[]> {
  const servicesNode = root.entries.get('services')?.value;
  if (servicesNode !== undefined && servicesNode.kind !== 'map')
    throw new ImportError(
      '`services:` must be a mapping of service names to their settings',
      'e.g. services: { web: { image: nginx } }',
      servicesNode.pos,
    );
  if (servicesNode === undefined || servicesNode.entries.size === 0)
    throw new ImportError(
      'the file declares no services',
      'a Compose file has a `services:` mapping',
      servicesNode?.pos ?? root.pos,
    );
  const resolver = new ExtendsResolver(context, file, servicesNode);
  const services: ComposeService[] = [];
  for (const [name, entry] of servicesNode.entries) {
    if (entry.value.kind !== 'map')
      throw new ImportError(
        `service ${name} is not a mapping`,
        'a service is a mapping of keys such as image, ports and environment',
        entry.value.pos,
      );
    services.push({ name, node: await resolver.resolve(name, entry.value), at: entry.keyPos });
  }
  return services;
}

/** As Compose names a project: `name:`, else COMPOSE_PROJECT_NAME, else the directory. */
function projectName(
  context: ComposeContext,
  root: MapNode,
  projectDir: string,
  environment: ComposeImportOptions['environment'],
): string {
  const written = root.entries.get('name')?.value;
  const text =
    (written && context.text(written, 'name')) ??
    environment.COMPOSE_PROJECT_NAME ??
    path.basename(projectDir);
  return dnsName(text, 'stack');
}

const MAPPED_TOP_LEVEL_KEYS = [
  'version',
  'name',
  'services',
  'networks',
  'volumes',
  'secrets',
  'configs',
];

function topLevelKeys(context: ComposeContext, root: MapNode): void {
  for (const [key, entry] of root.entries) {
    // `version` is obsolete: Compose ignores it too.
    if (key.startsWith('x-') || MAPPED_TOP_LEVEL_KEYS.includes(key)) continue;
    if (key === 'include')
      context.note(
        'untranslated',
        entry.keyPos,
        key,
        'included Compose files are not imported',
        'import each included file too and merge their services into this stack file',
      );
    else if (key === 'models')
      context.note(
        'untranslated',
        entry.keyPos,
        key,
        'Flotilla runs no models',
        'run the model server as a service',
      );
    else
      context.note(
        'untranslated',
        entry.keyPos,
        key,
        `\`${key}\` is not a top-level Compose key`,
        didYouMean(key, TOP_LEVEL_KEYS) ?? 'Compose would refuse it too',
      );
  }
}

function activeProfiles(options: ComposeImportOptions): Set<string> {
  const fromEnvironment =
    options.environment.COMPOSE_PROFILES?.split(',').map((profile) => profile.trim()) ?? [];
  return new Set([...(options.profiles ?? []), ...fromEnvironment].filter(Boolean));
}

/** The services to import; the others go to names.leftOut with a note saying why. */
function chooseServices(
  context: ComposeContext,
  services: ComposeService[],
  names: ProjectNames,
  profiles: Set<string>,
): ComposeService[] {
  const taken = new Set<string>();
  const included: ComposeService[] = [];
  const leaveOut = (service: ComposeService, reason: string, message: string, hint?: string) => {
    names.leftOut.set(service.name, reason);
    context.note('left-out', service.at, `services.${service.name}`, message, hint);
  };
  for (const service of services) {
    const path = `services.${service.name}`;
    const profilesNode = service.node.entries.get('profiles')?.value;
    const own = profilesNode
      ? context.textList(profilesNode, `${path}.profiles`).map((item) => item.text)
      : [];
    if (own.length > 0 && !profiles.has('*') && !own.some((profile) => profiles.has(profile))) {
      leaveOut(
        service,
        `profile ${own.join(', ')}`,
        `it runs only with profile ${own.join(' or ')}, as in Compose`,
        `pass --profile ${own[0]} to import it`,
      );
      continue;
    }
    const replicas = readReplicas(context, service.node, service.name);
    if (replicas?.count === 0) {
      leaveOut(service, 'no replicas', 'it has 0 replicas: Compose does not start it');
      continue;
    }
    const imageNode = service.node.entries.get('image')?.value;
    const image = imageNode && context.text(imageNode, `${path}.image`);
    if (image !== undefined && isReverseProxy(image)) {
      leaveOut(
        service,
        'a reverse proxy',
        `${imageRepository(image)} is a reverse proxy: Flotilla's gateway (Caddy, with automatic HTTPS) does its job`,
        'the routes it served are suggested on the services it routed to; add them under routes:',
      );
      continue;
    }
    const name = unique(dnsName(service.name, 'svc'), taken);
    names.services.set(service.name, name);
    if (name !== service.name)
      context.note(
        'changed',
        service.at,
        path,
        `named ${name}: a service name is lowercase letters, digits and hyphens`,
        `other services reach it as ${name}, not ${service.name}: update host names in their settings`,
      );
    included.push(service);
  }
  return included;
}

/** One note for every service that kept Compose's default restart policy. */
function defaultRestarts(context: ComposeContext, states: ServiceState[]): void {
  const names = states.filter((state) => state.restartDefaulted).map((state) => state.draft.name);
  if (names.length === 0) return;
  context.note(
    'changed',
    states.find((state) => state.restartDefaulted)!.at,
    'services',
    `${names.join(', ')} ${names.length === 1 ? 'has' : 'have'} no restart policy: Compose's default is not to restart a container that exits, so ${names.length === 1 ? 'it is' : 'they are'} written with restart: never`,
    'write restart: always (or unless-stopped) in the Compose file, or change the stack file, to have Flotilla restart them',
  );
}

/** A service others depend on but with no declared port cannot be reached in Flotilla. */
function unreachableDependencies(states: ServiceState[]): void {
  const byName = new Map(states.map((state) => [state.draft.name, state]));
  const warned = new Set<string>();
  for (const state of states) {
    for (const dependency of (state.draft.fields.depends_on ?? []) as string[]) {
      const target = byName.get(dependency);
      if (!target || target.ports.length > 0 || warned.has(dependency)) continue;
      warned.add(dependency);
      state.context.note(
        'changed',
        target.at,
        target.path('ports'),
        `${target.composeName} declares no ports, so no other service can connect to it: in Compose every port of a container is open to its networks, in Flotilla only the declared ones`,
        'declare the ports it listens on, e.g. ports: { http: 8080 }',
      );
    }
  }
}

function topLevelVolumes(context: ComposeContext, volumes: MapNode | undefined): void {
  for (const [name, entry] of volumes?.entries ?? []) {
    if (entry.value.kind !== 'map') continue;
    for (const [key, option] of entry.value.entries) {
      if (key.startsWith('x-')) continue;
      context.note(
        'untranslated',
        option.keyPos,
        `volumes.${name}.${key}`,
        `volume option \`${key}\` has no equivalent`,
        key === 'external' || key === 'name'
          ? `Flotilla makes the volume ${name} itself; to keep the data of an existing volume, copy it over`
          : 'Flotilla makes local volumes',
      );
    }
  }
}
