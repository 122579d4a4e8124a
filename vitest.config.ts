import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Every suite that needs a room server starts its own on a free port.
    fileParallelism: true,
    reporters: ['default'],
    setupFiles: ['test/support/exitCleanly.ts'],
    benchmark: { include: ['test/bench/**/*.bench.ts'] },
  },
})
