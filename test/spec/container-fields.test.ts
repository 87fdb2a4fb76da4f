// The stack file's fields for image services: accepted as written on an image service,
// refused with a pointer to `run` on a process, and checked value by value.
import { describe, expect, it } from 'vitest';
import { parseSize } from '../../src/spec/formats.ts';
import { parseStackText } from '../../src/spec/load.ts';

function load(service: string, extra = '') {
  return parseStackText(`name: demo\n${extra}services:\n  app:\n${service}`, 'flotilla.yml');
}

function messages(result: ReturnType<typeof load>): string[] {
  return result.ok ? [] : result.diagnostics.map((d) => `${d.line}:${d.message}`);
}

describe('image service fields', () => {
  it('keeps every container field of an image service', () => {
    const result = load(
      `    image: registry.example.com:5000/team/app:1.2
    entrypoint: [/bin/tini, --]
    command: [app, serve]
    user: '1000:1000'
    env_files: [app.env]
    memory: 512m
    cpus: 0.5
    read_only: true
    cap_drop: [ALL]
    ports: { http: 8080 }
    container_ports: { http: 80 }
`,
      `registries:\n  registry.example.com:5000: { username: ci, password: '\${secret:REGISTRY_PASSWORD}' }\n`,
    );
    expect(messages(result)).toEqual([]);
    if (!result.ok) return;
    expect(result.stack.services.app).toMatchObject({
      image: 'registry.example.com:5000/team/app:1.2',
      entrypoint: ['/bin/tini', '--'],
      user: '1000:1000',
      memory: '512m',
      cpus: 0.5,
      read_only: true,
      cap_drop: ['ALL'],
      container_ports: { http: 80 },
    });
  });

  it('refuses container-only fields on a process service, at their line, pointing to run', () => {
    const result = load(`    run: { command: [node, server.js] }
    ports: { http: 3000 }
    user: nobody
    memory: 1g
    container_ports: { http: 80 }
`);
    expect(messages(result)).toEqual([
      expect.stringMatching(/^6:.*`user` is for image services; a process uses run.user$/),
      expect.stringMatching(/^7:.*`memory` applies to image services only$/),
      expect.stringMatching(/^8:.*`container_ports` applies to image services only$/),
    ]);
  });

  it('refuses malformed values with what to write instead', () => {
    const result = load(`    image: 'bad image:tag'
    memory: lots
    cap_drop: [net_raw]
    ports: { http: 8080 }
    container_ports: { https: 443 }
`);
    const text = messages(result).join('\n');
    expect(text).toContain('an image is [registry/]name[:tag][@sha256:digest]');
    expect(text).toContain('not a size: write e.g. 256m');
    expect(text).toContain('a capability such as NET_RAW, or ALL');
    expect(text).toContain('container_ports.https names no port');
  });

  it('allows only secret references in registry passwords', () => {
    const result = load(
      `    image: app:1\n`,
      `registries:\n  ghcr.io: { username: me, password: 'hunter2\${app.port}' }\n`,
    );
    expect(messages(result).join('\n')).toContain(
      'only `${secret:NAME}` references are allowed in registry ghcr.io',
    );
  });
});

describe('parseSize', () => {
  it('reads binary units the way Docker does', () => {
    expect(parseSize('512m')).toBe(512 * 2 ** 20);
    expect(parseSize('1.5G')).toBe(1.5 * 2 ** 30);
    expect(parseSize('256MiB')).toBe(256 * 2 ** 20);
    expect(parseSize('64k')).toBe(64 * 1024);
    expect(parseSize('100')).toBe(100);
    expect(parseSize('lots')).toBeUndefined();
    expect(parseSize('-1m')).toBeUndefined();
  });
});
