// A node without a Docker Engine: the agent's reconciler holds an image instance as failed
// with a hint that says what to install or start, and finds no leftovers (nothing throws).
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Reconciler } from '../../../src/agent/reconciler.ts';
import { ContainerRuntime } from '../../../src/agent/runtime/container-runtime.ts';
import type { AgentPaths } from '../../../src/agent/process-spec.ts';
import { imageInstance } from './fixture.ts';

describe('image services on a node without Docker', () => {
  let dir: string;
  let paths: AgentPaths;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'flt-nodocker-'));
    paths = {
      instances: path.join(dir, 'instances'),
      logs: path.join(dir, 'logs'),
      secretFiles: path.join(dir, 'secret-files'),
    };
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('holds the instance as failed with a hint to install or start Docker', async () => {
    const runtime = new ContainerRuntime({
      socketPath: path.join(dir, 'docker.sock'),
      stack: 'demo',
      node: 'n1',
      paths,
      log: () => {},
      timing: { initialDelayMs: 1, maxDelayMs: 5, maxUnstableStarts: 2 },
    });
    const reconciler = new Reconciler({
      paths,
      runtimes: { container: runtime },
      event: () => {},
      changed: () => {},
    });
    expect(await runtime.leftovers()).toEqual([]);
    await reconciler.reconcile([imageInstance('web-1', { data_dir: path.join(dir, 'data') })], {
      secrets: () => undefined,
      healthyInCluster: new Set(),
      current: () => true,
    });
    await expect.poll(() => reconciler.instances()[0]?.state, { timeout: 10_000 }).toBe('failed');
    const [status] = reconciler.instances();
    expect(status?.reason).toMatch(/docker\.sock does not exist/);
    expect(status?.reason).toContain('apt-get install docker.io');
    await reconciler.stopAll({});
    runtime.close();
  });
});
