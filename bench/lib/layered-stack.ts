// A generated stack of tiny HTTP services (bench/fixtures/hello-server.js) in depends_on
// layers: each service past the first layer depends on two of the layer before and
// reaches them through `${svc.address}`; every fifth service has its own route and a
// quarter of the last layer share one host under path prefixes. Used by bench/converge
// (one node) and bench/cluster-converge (three lab nodes).

export interface LayeredService {
  name: string;
  layer: number;
  port: number;
  depends: string[];
  routes: { host: string; path?: string }[];
}

export function layeredServices(
  layers: readonly number[],
  portBase: number,
  domain: string,
): LayeredService[] {
  const services: LayeredService[] = [];
  const names: string[][] = [];
  let index = 0;
  for (const [layer, size] of layers.entries()) {
    const current: string[] = [];
    for (let i = 0; i < size; i++) {
      index += 1;
      const name = `s${String(index).padStart(2, '0')}`;
      const previous = names[layer - 1] ?? [];
      const depends =
        previous.length === 0
          ? []
          : [...new Set([previous[i % previous.length]!, previous[(i + 1) % previous.length]!])];
      const routes: LayeredService['routes'] = [];
      if (index % 5 === 0) routes.push({ host: `${name}.${domain}` });
      if (layer === layers.length - 1 && i % 4 === 0)
        routes.push({ host: `api.${domain}`, path: `/${name}` });
      services.push({ name, layer, port: portBase + index, depends, routes });
      current.push(name);
    }
    names.push(current);
  }
  return services;
}

export interface LayeredStackOptions {
  /** Lines before `services:` (name, gateway, mesh, nodes …). */
  head: string[];
  /** The service whose VERSION is 2 (an env change for apply to roll out). */
  changed?: string;
  /** Per service: extra lines (e.g. `    node: n2`), indented like its keys. */
  extra?: (service: LayeredService, index: number) => string[];
  /** Extra env entries, e.g. `HOST: 0.0.0.0` for services other nodes reach. */
  env?: string[];
}

export function layeredStackYaml(
  services: readonly LayeredService[],
  options: LayeredStackOptions,
): string {
  const lines = [...options.head, 'services:'];
  for (const [index, service] of services.entries()) {
    lines.push(`  ${service.name}:`);
    lines.push(...(options.extra?.(service, index) ?? []));
    lines.push('    run: { command: [node, hello-server.js] }');
    lines.push(`    ports: { http: ${service.port} }`);
    const env = [
      `PORT: '\${port}'`,
      `VERSION: '${service.name === options.changed ? 2 : 1}'`,
      ...(options.env ?? []),
    ];
    for (const [i, dependency] of service.depends.entries())
      env.push(`UPSTREAM_${i + 1}: 'http://\${${dependency}.address}'`);
    lines.push(`    env: { ${env.join(', ')} }`);
    if (service.depends.length > 0) lines.push(`    depends_on: [${service.depends.join(', ')}]`);
    lines.push('    health: { http: { path: /health } }');
    if (service.routes.length > 0) {
      const routes = service.routes.map((route) =>
        route.path === undefined
          ? `{ host: ${route.host} }`
          : `{ host: ${route.host}, path: ${route.path}, strip_prefix: true }`,
      );
      lines.push(`    routes: [${routes.join(', ')}]`);
    }
  }
  return `${lines.join('\n')}\n`;
}
