import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    pool: 'forks',
    // Every `flotilla` a test starts runs the sources under test, not a compiled build.
    env: { FLOTILLA_FROM_SOURCE: '1' },
  },
});
