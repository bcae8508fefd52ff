import { defineConfig } from 'vitest/config';

// Three projects: fast pure/in-process tests; integration tests against the real
// engine, nginx and registry, which run files one at a time because they share the
// engine and its memory capacity; and the Swarm tests, beside them.
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
          exclude: ['test/**/swarm-*.docker.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
      {
        // Each file builds its own Swarm of engines in network namespaces (its own lab number,
        // ports and addresses): they share nothing with the host engine's tests, so the two
        // projects run side by side, each a file at a time.
        test: {
          name: 'swarm',
          include: ['test/**/swarm-*.docker.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
