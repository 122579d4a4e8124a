import { defineConfig, type TestProjectInlineConfiguration } from 'vitest/config'

/**
 * The suite, in layers. Each layer is a Vitest project, and `sequence.groupOrder`
 * runs them in four steps, one after another, so the heavy layers never
 * share the machine's two cores with a browser:
 *
 * 1. unit, server, libwebrtc and model, in parallel (each file starts its own
 *    room server on a free port);
 * 2. mesh: dozens of real libwebrtc connections, alone;
 * 3. netlab: bots in Linux network namespaces behind NATs, with coturn, one
 *    file at a time, alone (each lab owns every `mc…-` namespace);
 * 4. browser: real Chromium and Firefox, one file at a time, alone.
 *
 * Run one layer with `npx vitest run --project NAME`.
 */
const layer = (name: string, include: string[], groupOrder: number, extra: TestProjectInlineConfiguration['test'] = {}) =>
  ({
    extends: true,
    test: { name, include, sequence: { groupOrder }, ...extra },
  }) satisfies TestProjectInlineConfiguration

export const LAYERS = {
  unit: [
    'test/protocol/**/*.test.ts',
    'test/party/units.test.ts',
    'test/machines/inspect/**/*.test.ts',
    'test/features/**/*.test.ts',
    'test/features/**/*.test.tsx',
    'test/support/simulatedWebRTC.test.ts',
    'test/scripts/token.test.ts',
    'test/vitest.config.test.ts',
    'test/eslint.config.test.ts',
  ],
  server: ['test/party/server.test.ts', 'test/party/auth.test.ts'],
  fuzz: ['test/party/fuzz.test.ts'],
  libwebrtc: [
    'test/machines/peerMachine*.test.ts',
    'test/machines/safetyCode.test.ts',
    'test/machines/mediaMachine.test.ts',
    'test/machines/roomMachine.test.ts',
    'test/machines/node/**/*.test.ts',
    'test/scripts/bot.test.ts',
  ],
  model: ['test/model/**/*.test.ts'],
  mesh: ['test/machines/mesh.test.ts', 'test/machines/churn.test.ts'],
  netlab: ['test/netlab/**/*.test.ts'],
  browser: ['test/app/**/*.test.ts', 'test/support/browsers.test.ts'],
}

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default'],
    setupFiles: ['test/support/exitCleanly.ts'],
    // Only the unit layer runs Vitest benchmarks (`npx vitest bench --run`: the inspector recorder), and once.
    benchmark: { include: [] },
    projects: [
      layer('unit', LAYERS.unit, 1, { benchmark: { include: ['test/bench/**/*.bench.ts'] } }),
      layer('server', LAYERS.server, 1),
      layer('libwebrtc', LAYERS.libwebrtc, 1),
      layer('model', LAYERS.model, 1),
      // Thousands of frames a second at a room server: nothing beside it.
      layer('fuzz', LAYERS.fuzz, 2),
      // Many libwebrtc participants in one process each: one file at a time.
      layer('mesh', LAYERS.mesh, 3, { fileParallelism: false }),
      // A new lab removes every lab namespace it finds (a crashed run's), so
      // lab files never run side by side.
      layer('netlab', LAYERS.netlab, 4, { fileParallelism: false }),
      // Four browser participants decoding video in software keep their pages
      // 40–48 % busy each on two cores: one file at a time, nothing beside it.
      layer('browser', LAYERS.browser, 5, { fileParallelism: false }),
    ],
  },
})
