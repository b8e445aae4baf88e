import { defineConfig } from 'vitest/config';

// Every test file gets its own PostgreSQL database (cloned from a migrated template) and its own
// Redis key prefix, so files run in parallel on real services and leave nothing behind.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'services/**/*.test.ts', 'queues/**/*.test.ts', 'sim/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
