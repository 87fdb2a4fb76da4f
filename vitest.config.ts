import { defineConfig } from 'vitest/config';

// Two lanes, which scripts/test.sh runs side by side, one file at a time each: the lab lane
// (multi-node clusters in network namespaces, each with its hub, agents and dockerds) and
// the host lane (everything else, some on the host's fixed gateway ports). Two labs at once
// starve each other on a 2-core machine; a lab beside a host test does not, and a test's
// time is mostly waiting. `npx vitest run` alone runs both lanes one file at a time.
const LAB = ['test/cluster/**/*.test.ts', 'test/lab/**/*.test.ts'];

const shared = {
  testTimeout: 30_000,
  pool: 'forks' as const,
  // Every `flotilla` a test starts runs the sources under test, not a compiled build.
  env: { FLOTILLA_FROM_SOURCE: '1' },
};

export default defineConfig({
  test: {
    maxWorkers: 1,
    projects: [
      { test: { ...shared, name: 'lab', include: LAB } },
      { test: { ...shared, name: 'host', include: ['test/**/*.test.ts'], exclude: LAB } },
    ],
  },
});
