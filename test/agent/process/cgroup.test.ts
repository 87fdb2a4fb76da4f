// A service's process starts inside its cgroup (its local network segment), before it runs
// any of its own code, while the supervisor itself stays where it was; a running copy found
// outside the cgroup is replaced rather than adopted.
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cgroup2Mount, cgroupOf, removeCgroup } from '../../../src/agent/process/cgroup.ts';
import { Harness, nextEvent, node, waitFor } from './fixtures/harness.ts';

const mount = cgroup2Mount();
const harness = new Harness();
beforeEach(() => harness.setup());

describe.skipIf(process.getuid?.() !== 0 || mount === undefined)('processes in cgroups', () => {
  const stack = `cg${randomBytes(3).toString('hex')}`;
  const cgroup = `flotilla/${stack}/local/svc`;
  afterEach(async () => {
    await harness.cleanup();
    for (const dir of [cgroup, `flotilla/${stack}/local`, `flotilla/${stack}`, 'flotilla'])
      removeCgroup(mount!, dir);
  });

  it('starts the process in its cgroup: its very first instruction runs there', async () => {
    const own = cgroupOf('self');
    // The child reads its own cgroup before anything else and prints it.
    const spec = harness.spec({
      command: node(
        "process.stdout.write(require('fs').readFileSync('/proc/self/cgroup', 'utf8')); setInterval(() => {}, 1000)",
      ),
      cgroup,
      user: 'nobody',
      cwd: '/',
    });
    const supervisor = harness.supervise(spec);
    await supervisor.start();
    const pid = supervisor.status.pid!;
    expect(cgroupOf(pid)).toBe(`/${cgroup}`);
    await waitFor(async () => (await harness.log(spec)).includes('0::'), 'the child’s report');
    expect(await harness.log(spec)).toContain(`0::/${cgroup}\n`);
    expect(cgroupOf('self')).toBe(own);
    await supervisor.stop();
  });

  it('replaces a running copy that is outside its cgroup instead of adopting it', async () => {
    const outside = harness.spec({ command: node('setInterval(() => {}, 1000)') });
    const first = harness.supervise(outside);
    await first.start();
    const stray = first.status.pid!;
    first.detach();

    const inside = harness.supervise({ ...outside, cgroup });
    const started = nextEvent(inside, 'started');
    await inside.start();
    const [event] = await started;
    expect(event.adopted).toBe(false);
    expect(event.pid).not.toBe(stray);
    expect(cgroupOf(event.pid)).toBe(`/${cgroup}`);
    await waitFor(() => cgroupOf(stray) === undefined, 'the stray copy to be gone');
    await inside.stop();
  });
});
