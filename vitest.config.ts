import { defineConfig } from 'vitest/config';

/**
 * Latency comparisons ("the other bots' p99 stays within 1.5×") measure this machine: next to a dozen
 * other suites on 2 cores they would measure the neighbours. They run afterwards, one file at a time.
 */
const TIMING = ['test/chaos/bot-5xx-isolation.test.ts', 'test/lifecycle/isolation.test.ts'];

// Every test file gets its own PostgreSQL database (cloned from a migrated template) and its own Redis key
// prefix, so files run in parallel on real services and leave nothing behind.
export default defineConfig({
  test: {
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default'],
    projects: [
      {
        extends: true,
        test: {
          name: 'suites',
          include: ['test/**/*.test.ts', 'services/**/*.test.ts', 'queues/**/*.test.ts', 'sim/**/*.test.ts'],
          exclude: TIMING,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: { name: 'timing', include: TIMING, fileParallelism: false, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
