import { defineConfig } from 'vitest/config';

// Two lanes, which scripts/test.sh runs side by side, one file at a time each. The
// namespaced lane: tests whose processes live in network namespaces of their own (the lab's
// multi-node clusters, each with its hub, agents and dockerds; the container tests' dockerds).
// The host lane: everything else, some on the host's fixed gateway ports. Two labs at once
// starve each other on a 2-core machine; a lab beside a host test does not, and a test's time
// is mostly waiting. The lanes take about as long as each other. `npx vitest run` alone runs
// both, one file at a time.
const NAMESPACED = [
  'test/cluster/**/*.test.ts',
  'test/lab/**/*.test.ts',
  'test/agent/container/**/*.test.ts',
  'test/container/**/*.test.ts',
  'test/security/container-*.test.ts',
  'test/security/engine-firewall.test.ts',
  // Host tests that hold no host port and start no stack, moved here to even the lanes.
  'test/spec/fuzz.test.ts',
  'test/security/cli-arguments.test.ts',
  'test/security/secret-input.test.ts',
  'test/backup/retention.test.ts',
  'test/backup/files.test.ts',
  'test/backup/cli.test.ts',
];

const shared = {
  testTimeout: 30_000,
  pool: 'forks' as const,
  // Every `flotilla` a test starts runs the sources through tsx, unless the caller chose the
  // compiled build: scripts/test.sh (the README's command, CI) does, right after building it
  // from these sources, so the suite runs what an install runs and each command starts in
  // about a third of the time. A plain `npx vitest run` keeps the sources, so an edit is
  // never hidden by an old build and concurrent runs never rebuild under each other.
  env: { FLOTILLA_FROM_SOURCE: process.env['FLOTILLA_FROM_SOURCE'] ?? '1' },
};

export default defineConfig({
  test: {
    maxWorkers: 1,
    projects: [
      { test: { ...shared, name: 'namespaced', include: NAMESPACED } },
      { test: { ...shared, name: 'host', include: ['test/**/*.test.ts'], exclude: NAMESPACED } },
    ],
  },
});
