// Routes the Compose file hints at, suggested and never written: the hosts of Traefik
// router rules (`Host(\`app.example.com\`)`), of caddy-docker-proxy labels and of
// nginx-proxy's VIRTUAL_HOST, and HTTP-looking ports Compose published. A route makes a
// service public, so a person decides: the suggestions are comments above the service
// and notes in the report.
import type { ServiceState } from './service-state.ts';
import type { Node, Pos } from './tree.ts';

interface Suggestion {
  host: string;
  path?: string;
  port?: string;
  why: string;
  at: Pos;
}

interface Label {
  value: string;
  at: Pos;
}

function labels(state: ServiceState, node: Node): Map<string, Label> {
  const result = new Map<string, Label>();
  const path = state.path('labels');
  if (node.kind === 'map') {
    for (const [key, entry] of node.entries) {
      const value = state.context.text(entry.value, `${path}.${key}`);
      if (value !== undefined) result.set(key, { value, at: entry.keyPos });
    }
  } else if (node.kind === 'seq') {
    node.items.forEach((item, index) => {
      const text = state.context.text(item, `${path}[${index}]`);
      const equals = text?.indexOf('=') ?? -1;
      if (text !== undefined && equals > 0)
        result.set(text.slice(0, equals), { value: text.slice(equals + 1), at: item.pos });
    });
  }
  return result;
}

/** The strings inside a rule's matcher: Host(`a.com`, `b.com`) → [a.com, b.com]. */
function matcherArguments(rule: string, matcher: string): string[] {
  const found: string[] = [];
  for (const [, inside] of rule.matchAll(new RegExp(`\\b${matcher}\\(([^)]*)\\)`, 'g')))
    for (const [, text] of inside!.matchAll(/[`"']([^`"']+)[`"']/g)) found.push(text!);
  return found;
}

/** The named port for a port number, declared if the labels say the container listens there. */
function portFor(state: ServiceState, number: number, at: Pos, path: string): string {
  const declared = state.ports.find((port) => port.port === number);
  if (declared) return declared.name;
  state.context.note(
    'changed',
    at,
    path,
    `declared port ${number}, where the routing settings say the container listens`,
  );
  return state.declarePort({ port: number, at, path, http: true }, 'http');
}

function fromLabels(state: ServiceState, found: Map<string, Label>): Suggestion[] {
  const suggestions: Suggestion[] = [];
  const traefikPort = [...found].find(([key]) =>
    /^traefik\.http\.services\.[^.]+\.loadbalancer\.server\.port$/.test(key),
  );
  for (const [key, label] of found) {
    if (!/^traefik\.http\.routers\.[^.]+\.rule$/.test(key)) continue;
    const path = matcherArguments(label.value, 'PathPrefix')[0];
    for (const host of matcherArguments(label.value, 'Host')) {
      const suggestion: Suggestion = { host, why: `traefik rule ${label.value}`, at: label.at };
      if (path !== undefined) suggestion.path = path;
      if (traefikPort && /^\d+$/.test(traefikPort[1].value))
        suggestion.port = portFor(
          state,
          Number(traefikPort[1].value),
          traefikPort[1].at,
          state.path('labels'),
        );
      suggestions.push(suggestion);
    }
  }
  const caddy = found.get('caddy');
  if (caddy) {
    const upstream = /\{\{\s*upstreams\s+(\d+)\s*\}\}/.exec(
      found.get('caddy.reverse_proxy')?.value ?? '',
    )?.[1];
    for (const site of caddy.value.split(/[\s,]+/).filter(Boolean)) {
      const host = site.replace(/^https?:\/\//, '').replace(/:\d+$/, '');
      const suggestion: Suggestion = { host, why: `caddy label ${caddy.value}`, at: caddy.at };
      if (upstream !== undefined)
        suggestion.port = portFor(state, Number(upstream), caddy.at, state.path('labels'));
      suggestions.push(suggestion);
    }
  }
  return suggestions;
}

/** nginx-proxy's VIRTUAL_HOST / VIRTUAL_PORT / VIRTUAL_PATH, read from the service's env. */
function fromVirtualHost(state: ServiceState): Suggestion[] {
  const env = (state.draft.fields.env ?? {}) as Record<string, unknown>;
  const hosts = env.VIRTUAL_HOST;
  if (typeof hosts !== 'string' || hosts.includes('${')) return [];
  const at = state.draft.origins.get('env.VIRTUAL_HOST') as Pos;
  const port = Number(env.VIRTUAL_PORT);
  const path = env.VIRTUAL_PATH;
  return hosts
    .split(',')
    .map((host) => host.trim())
    .filter(Boolean)
    .map((host) => {
      const suggestion: Suggestion = { host, why: `VIRTUAL_HOST=${hosts}`, at };
      if (Number.isInteger(port) && port > 0)
        suggestion.port = portFor(state, port, at, state.path('environment.VIRTUAL_PORT'));
      if (typeof path === 'string' && path.startsWith('/')) suggestion.path = path;
      return suggestion;
    });
}

/** A published HTTP-looking port: the service was meant to be reached from outside. */
function fromPublishedPorts(state: ServiceState): Suggestion[] {
  const port = state.ports.find((declared) => declared.http && declared.published !== undefined);
  if (!port) return [];
  return [
    {
      host: `${state.draft.name}.example.com`,
      port: port.name,
      why: `Compose published it on ${port.published} and it looks like HTTP; pick the real host name`,
      at: port.at,
    },
  ];
}

export function suggestRoutes(state: ServiceState): void {
  const labelsEntry = state.entry('labels');
  const found = labelsEntry ? labels(state, labelsEntry.value) : new Map<string, Label>();
  let suggestions = [...fromLabels(state, found), ...fromVirtualHost(state)];
  if (suggestions.length === 0) suggestions = fromPublishedPorts(state);
  if (labelsEntry) {
    const routing = [...found.keys()].some(
      (key) => key.startsWith('traefik.') || key.startsWith('caddy'),
    );
    state.context.note(
      'untranslated',
      labelsEntry.keyPos,
      state.path('labels'),
      routing
        ? 'Flotilla has no container labels; the routing labels are read into the suggested routes'
        : 'Flotilla has no container labels',
      routing
        ? 'the gateway (Caddy) routes, with TLS: add the suggested routes you want'
        : undefined,
    );
  }
  if (suggestions.length === 0) return;
  if (state.ports.length === 0)
    for (const suggestion of suggestions)
      suggestion.why += '; declare the port the container listens on (ports:) first';
  state.draft.comments.push('Suggested routes (not written: a route makes the service public):');
  for (const suggestion of suggestions) {
    const fields = [`host: ${suggestion.host}`];
    if (suggestion.path !== undefined) fields.push(`path: ${suggestion.path}`);
    if (suggestion.port !== undefined) fields.push(`port: ${suggestion.port}`);
    const route = `{ ${fields.join(', ')} }`;
    state.draft.comments.push(`  routes: [${route}]  # ${suggestion.why}`);
    state.context.note(
      'suggestion',
      suggestion.at,
      state.path('routes'),
      `route ${route} (${suggestion.why})`,
      `add it under services.${state.draft.name}.routes to make the service public through the gateway`,
    );
  }
}
