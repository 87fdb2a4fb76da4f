// The comments that make a stack file `flotilla init` wrote explain itself: a header (the
// schema line for editors, where the file came from), one comment above the first use of
// each key saying what it does and what to change, and a closing block with what a
// first stack usually adds next (a domain, routes, secrets). Comments only: the stack the
// loader reads is the one the importer or package.json produced.
import { isMap, isPair, isScalar, parseDocument, type Scalar } from 'yaml';

/** The line the YAML language server reads; `flotilla schema` writes the file it names. */
export const SCHEMA_FILE = 'flotilla.schema.json';
export const SCHEMA_LINE = `yaml-language-server: $schema=./${SCHEMA_FILE}`;

/** What each service key does, said above its first use. */
const KEY_COMMENTS: Record<string, string[]> = {
  image: ['image: the container image to run (pulled on each node that runs the service).'],
  run: [
    'run: a process service: the argv Flotilla starts (no shell), relative to this file.',
    "${port} is the instance's port, ${data} its data directory.",
  ],
  command: ["command: replaces the image's CMD (argv)."],
  entrypoint: ["entrypoint: replaces the image's ENTRYPOINT (argv)."],
  user: ['user: the user the container runs as.'],
  replicas: ['replicas: how many instances; each gets its own port on its node.'],
  ports: [
    'ports: named ports on the node (mesh address or loopback, never the internet).',
    'The public way in is a route (see the end of this file).',
  ],
  container_ports: ['container_ports: where the container listens, when not on the node port.'],
  env: [
    'env: the environment. A secret is written ${secret:NAME}, never its value:',
    'set it with `flotilla secrets set NAME` (it is read from stdin).',
  ],
  env_files: ['env_files: env files read at start, relative to this file.'],
  secret_files: ['secret_files: secrets given as files; NAME_FILE holds the path.'],
  volumes: ['volumes: bind mounts (relative to this file) and named volumes.'],
  networks: ['networks: the network segments the service is in.'],
  depends_on: ['depends_on: started once these are healthy (running, without a health check).'],
  health: ['health: the check that decides healthy (in routes) and restarts.'],
  restart: ['restart: always, on-failure or never.'],
  stop: ['stop: the signal sent to stop, and how long to wait before SIGKILL.'],
  memory: ['memory: the memory limit.'],
  cpus: ['cpus: the CPU limit.'],
  read_only: ["read_only: the container's root filesystem is read-only."],
  cap_drop: ['cap_drop: Linux capabilities taken away.'],
};

const NEXT_STEPS = [
  ' What a stack usually adds next (uncomment and edit):',
  '',
  ' Under a service, a route makes it public on the gateway (ports 80 and 443, HTTPS',
  ' with a certificate the gateway obtains) at a host name. Write your own domain,',
  ' whose DNS record points at the gateway machine (*.localhost works on this one):',
  '   routes: [{ host: app.example.com }]',
  '',
  ' A secret in env: the file holds only its name; its value goes to the secret store:',
  "   env: { API_KEY: '${secret:API_KEY}' }",
  '   flotilla secrets set API_KEY',
  '',
  ' More machines: a `nodes:` section, and `node:` or `labels:` on services.',
  ' Every key: the examples/ directory, and the schema above in your editor.',
];

/** What each top-level key init writes does. */
const TOP_COMMENTS: Record<string, string> = {
  name: "name: the stack's name (lowercase letters, digits, hyphens).",
  networks:
    'networks: segments; services in one reach each other, an internal one has no internet.',
  services: 'services: what runs; other services reach each one by its name.',
};

/** Puts `lines` above `pair`'s key, as comments. */
function commentKey(pair: unknown, lines: string[]): void {
  if (isPair(pair) && isScalar(pair.key))
    (pair.key as Scalar).commentBefore = lines.map((line) => ` ${line}`).join('\n');
}

/** `text` (a stack file) with the header, key and closing comments; `origin` says where it came from. */
export function annotateStack(text: string, origin: string[]): string {
  const document = parseDocument(text);
  document.commentBefore = [
    ` ${SCHEMA_LINE}`,
    ` (write the schema with: flotilla schema > ${SCHEMA_FILE})`,
    '',
    ...origin.map((line) => ` ${line}`),
    '',
    ' Check it with `flotilla validate`, see what would run where with `flotilla plan`,',
    ' then start it with `flotilla up`.',
  ].join('\n');
  const top = document.contents;
  if (!isMap(top)) throw new Error('a rendered stack is a mapping');
  const explained = new Set<string>();
  for (const pair of top.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : '';
    if (TOP_COMMENTS[key] !== undefined) commentKey(pair, [TOP_COMMENTS[key]]);
    if (key !== 'services' || !isMap(pair.value)) continue;
    for (const service of pair.value.items) {
      if (!isMap(service.value)) continue;
      for (const field of service.value.items) {
        const name = isScalar(field.key) ? String(field.key.value) : '';
        const comment = KEY_COMMENTS[name];
        if (comment === undefined || explained.has(name)) continue;
        explained.add(name);
        commentKey(field, comment);
      }
    }
  }
  document.comment = NEXT_STEPS.join('\n');
  return document.toString({ lineWidth: 0, flowCollectionPadding: false });
}
