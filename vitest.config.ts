import { defineConfig } from 'vitest/config';

// Two projects: fast pure/in-process tests, and integration tests against the
// real engine, nginx and registry. The docker project runs files one at a time
// because they share the engine and its memory capacity.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.docker.test.ts'],
        },
      },
      {
        test: {
          name: 'docker',
          include: ['test/**/*.docker.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
