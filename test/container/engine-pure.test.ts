// The engine client's pure parts, without an engine: the create body as a whole, image
// references, the X-Registry-Auth encoding, registry errors, and reading the multiplexed
// stdout/stderr stream. The real engine is exercised in engine.test.ts.
import { describe, expect, it } from 'vitest';
import { createBody } from '../../src/container/engine/containers.ts';
import {
  ImageTagNotFoundError,
  ImageTransferError,
  RegistryUnauthorizedError,
  RegistryUnreachableError,
} from '../../src/container/engine/errors.ts';
import { parseImageReference, pullReference } from '../../src/container/engine/image-reference.ts';
import { splitLines, unixTimestamp } from '../../src/container/engine/logs.ts';
import { registryAuthHeader, registryFailure } from '../../src/container/engine/registry-auth.ts';
import { demultiplex } from '../../src/container/engine/stdio-stream.ts';

function frame(type: number, text: string): Buffer {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header[0] = type;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

async function* chunks(...buffers: Buffer[]): AsyncGenerator<Buffer> {
  yield* buffers;
}

describe('createBody', () => {
  it('maps every option to the engine’s create body, restart policy "no", no TTY', () => {
    const body = createBody({
      name: 'salem-api-1',
      image: '127.0.0.1:5000/acme/api@sha256:' + 'a'.repeat(64),
      labels: { 'flotilla.stack': 'salem' },
      env: { A: '1', B: 'x=y' },
      cmd: ['serve', '--port', '3000'],
      entrypoint: [],
      user: '1000:1000',
      workingDir: '/app',
      binds: [{ source: '/srv/data', target: '/data', readOnly: true }],
      mounts: [
        { type: 'tmpfs', target: '/run/secrets', sizeBytes: 1 << 20, mode: 0o700 },
        { type: 'volume', source: 'salem-pg', target: '/var/lib/postgresql' },
      ],
      memoryBytes: 512 * 1024 * 1024,
      nanoCpus: 500_000_000,
      readonlyRootfs: true,
      capDrop: ['ALL'],
      ports: [
        { containerPort: 3000, hostIp: '127.0.0.1', hostPort: 8080 },
        { containerPort: 53, protocol: 'udp', hostIp: '100.96.0.2' },
      ],
      extraHosts: [{ hostname: 'postgres', address: '100.96.0.3' }],
      networkMode: 'salem-backend',
      networkAliases: ['api'],
      init: true,
      stopSignal: 'SIGINT',
      stopTimeoutSeconds: 20,
      healthcheck: {
        test: ['CMD', 'wget', '-q', 'http://127.0.0.1:3000/health'],
        intervalMs: 2000,
        retries: 3,
      },
      log: { maxSize: '5m', maxFiles: 2 },
    });
    expect(body).toEqual({
      Image: '127.0.0.1:5000/acme/api@sha256:' + 'a'.repeat(64),
      Labels: { 'flotilla.stack': 'salem' },
      Env: ['A=1', 'B=x=y'],
      Cmd: ['serve', '--port', '3000'],
      Entrypoint: [''],
      User: '1000:1000',
      WorkingDir: '/app',
      StopSignal: 'SIGINT',
      StopTimeout: 20,
      Healthcheck: {
        Test: ['CMD', 'wget', '-q', 'http://127.0.0.1:3000/health'],
        Interval: 2_000_000_000,
        Retries: 3,
      },
      ExposedPorts: { '3000/tcp': {}, '53/udp': {} },
      Tty: false,
      OpenStdin: false,
      AttachStdin: false,
      AttachStdout: false,
      AttachStderr: false,
      HostConfig: {
        Binds: ['/srv/data:/data:ro'],
        Mounts: [
          {
            Type: 'tmpfs',
            Target: '/run/secrets',
            TmpfsOptions: { SizeBytes: 1048576, Mode: 0o700 },
          },
          { Type: 'volume', Source: 'salem-pg', Target: '/var/lib/postgresql', ReadOnly: false },
        ],
        Memory: 536870912,
        NanoCpus: 500000000,
        ReadonlyRootfs: true,
        CapDrop: ['ALL'],
        CapAdd: [],
        PortBindings: {
          '3000/tcp': [{ HostIp: '127.0.0.1', HostPort: '8080' }],
          '53/udp': [{ HostIp: '100.96.0.2', HostPort: '' }],
        },
        ExtraHosts: ['postgres:100.96.0.3'],
        NetworkMode: 'salem-backend',
        RestartPolicy: { Name: 'no' },
        AutoRemove: false,
        Init: true,
        LogConfig: { Type: 'json-file', Config: { 'max-size': '5m', 'max-file': '2' } },
      },
      NetworkingConfig: { EndpointsConfig: { 'salem-backend': { Aliases: ['api'] } } },
    });
  });

  it('leaves the image’s command, user and healthcheck alone unless told; "none" disables the check', () => {
    const body = createBody({ name: 'x', image: 'busybox', healthcheck: 'none' });
    expect(body).not.toHaveProperty('Cmd');
    expect(body).not.toHaveProperty('Entrypoint');
    expect(body).not.toHaveProperty('User');
    expect(body.Healthcheck).toEqual({ Test: ['NONE'] });
    expect((body.HostConfig as { LogConfig: unknown }).LogConfig).toEqual({
      Type: 'json-file',
      Config: { 'max-size': '10m', 'max-file': '3' },
    });
  });
});

describe('image references', () => {
  it('finds the registry host as the engine does', () => {
    expect(parseImageReference('postgres:16')).toEqual({
      registry: 'docker.io',
      repository: 'library/postgres',
      tag: '16',
      digest: undefined,
    });
    expect(parseImageReference('127.0.0.1:5000/acme/api')).toMatchObject({
      registry: '127.0.0.1:5000',
      repository: 'acme/api',
      tag: undefined,
    });
    expect(parseImageReference('ghcr.io/acme/api:1.4@sha256:' + 'b'.repeat(64))).toMatchObject({
      registry: 'ghcr.io',
      tag: '1.4',
      digest: 'sha256:' + 'b'.repeat(64),
    });
    expect(parseImageReference('acme/api').registry).toBe('docker.io');
    expect(parseImageReference('localhost/api').registry).toBe('localhost');
  });

  it('pulls :latest for a bare name, never every tag', () => {
    expect(pullReference('127.0.0.1:5000/acme/api')).toBe('127.0.0.1:5000/acme/api:latest');
    expect(pullReference('postgres:16')).toBe('postgres:16');
    expect(pullReference('api@sha256:' + 'c'.repeat(64))).toBe('api@sha256:' + 'c'.repeat(64));
  });
});

describe('registry credentials', () => {
  it('encodes X-Registry-Auth as padded base64url JSON (the engine drops an unpadded one)', () => {
    // 'ab' makes the JSON's length not a multiple of 3, so padding is needed.
    const header = registryAuthHeader({ username: 'u', password: 'p?>ab' }, 'ghcr.io/acme/api:1');
    expect(header).toMatch(/^[A-Za-z0-9_-]+=*$/);
    expect(header.length % 4).toBe(0);
    expect(JSON.parse(Buffer.from(header, 'base64url').toString())).toEqual({
      username: 'u',
      password: 'p?>ab',
      serveraddress: 'ghcr.io',
    });
    expect(Buffer.from(registryAuthHeader(undefined, 'x'), 'base64url').toString()).toBe('{}');
  });

  it('types registry failures, with hints and without the password', () => {
    const reference = '127.0.0.1:5000/acme/api:2';
    const secrets = ['hunter2'];
    const cases: [string, unknown][] = [
      [
        'manifest for 127.0.0.1:5000/acme/api:2 not found: manifest unknown: manifest unknown',
        ImageTagNotFoundError,
      ],
      [
        'Head "http://127.0.0.1:5000/v2/acme/api/manifests/2": no basic auth credentials',
        RegistryUnauthorizedError,
      ],
      ['unauthorized: authentication required (password hunter2)', RegistryUnauthorizedError],
      [
        'Get "http://127.0.0.1:5000/v2/": dial tcp 127.0.0.1:5000: connect: connection refused',
        RegistryUnreachableError,
      ],
      ['received unexpected HTTP status: 500 Internal Server Error', ImageTransferError],
    ];
    for (const [message, type] of cases) {
      const error = registryFailure('pull', reference, message, { secrets });
      expect(error).toBeInstanceOf(type);
      expect(error.hint).not.toBe('');
      expect(`${error.message} ${error.hint} ${error.engineMessage}`).not.toContain('hunter2');
    }
    expect(registryFailure('pull', reference, 'no basic auth credentials').hint).toContain(
      'registries."127.0.0.1:5000"',
    );
  });
});

describe('multiplexed output', () => {
  it('splits frames into stdout and stderr, also when a frame spans chunks', async () => {
    const bytes = Buffer.concat([frame(1, 'out\n'), frame(2, 'err\n'), frame(1, 'more\n')]);
    const frames = await collect(
      demultiplex(chunks(bytes.subarray(0, 5), bytes.subarray(5, 14), bytes.subarray(14)), 'test'),
    );
    expect(frames.map((f) => [f.stream, f.data.toString()])).toEqual([
      ['stdout', 'out\n'],
      ['stderr', 'err\n'],
      ['stdout', 'more\n'],
    ]);
    await expect(collect(demultiplex(chunks(bytes.subarray(0, 10)), 'test'))).rejects.toThrow(
      /cut in the middle/,
    );
  });

  it('makes lines per stream; a piece without newline continues in the next frame', async () => {
    const t1 = '2026-11-30T15:00:00.123456789Z';
    const t2 = '2026-11-30T15:00:01.000000001Z';
    const frames = demultiplex(
      chunks(
        frame(1, `${t1} long `),
        frame(2, `${t1} e1\n`),
        frame(1, `${t2} line\n`),
        frame(1, `${t2} tail`),
      ),
      'test',
    );
    expect(await collect(splitLines(frames, true))).toEqual([
      { stream: 'stderr', line: 'e1', time: t1 },
      { stream: 'stdout', line: 'long line', time: t1 },
      { stream: 'stdout', line: 'tail', time: t2 },
    ]);
  });

  it('gives `since` in the engine’s unix seconds with nanoseconds', () => {
    expect(unixTimestamp('2026-11-30T15:00:00.123456789Z')).toBe(
      `${Date.UTC(2026, 10, 30, 15) / 1000}.123456789`,
    );
    expect(unixTimestamp(new Date(1_700_000_000_500))).toBe('1700000000.500');
  });
});
