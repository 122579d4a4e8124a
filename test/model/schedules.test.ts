import { rmSync } from 'node:fs'
import { test } from '@fast-check/vitest'
import { afterAll, describe, expect, it } from 'vitest'
import { stopAllSynthetic } from '../../machines/node/syntheticMedia'
import { libwebrtcBackend, simulatedBackend } from './mesh'
import {
  ALL_DISRUPTIONS,
  loadFixtures,
  runSchedule,
  saveFixture,
  scheduleArb,
  scheduleHash,
  type Disruption,
  type Schedule,
} from './schedule'

// Model-based testing, part 2: random schedules of signaling over a mesh of
// 2 to 4 peers on the simulated network, checked for convergence. A failing
// schedule is shrunk and saved as a fixture, and every fixture is replayed,
// on the simulation and on real libwebrtc.
const RUNS = Number(process.env.MODEL_RUNS ?? 1_000)
const SEED = process.env.MODEL_SEED === undefined ? undefined : Number(process.env.MODEL_SEED)

afterAll(() => {
  // libwebrtc's binding may crash at process exit with live tracks.
  stopAllSynthetic()
})

const counts = new Map<string, { runs: number; failures: number; ms: number }>()
afterAll(() => {
  for (const [name, { runs, failures, ms }] of counts) {
    console.log(`${runs} schedules ran (${failures} failing, shrinks included) in ${(ms / 1000).toFixed(1)} s: ${name}`)
  }
})

/**
 * The convergence property over `disruptions`, on the simulated network.
 * Each failing schedule is saved as a fixture, replacing the one this
 * property saved before it: what is left when fast-check is done
 * shrinking is the smallest counterexample.
 */
function everyScheduleConverges(label: string, disruptions: readonly Disruption[]) {
  const count = { runs: 0, failures: 0, ms: 0 }
  counts.set(label, count)
  let saved: string | null = null
  test.prop([scheduleArb({ disruptions })], { numRuns: RUNS, seed: SEED })(
    `${label}: every pair converges (${RUNS} runs)`,
    async (schedule: Schedule) => {
      const started = performance.now()
      count.runs++
      const { problems } = await runSchedule(schedule, simulatedBackend())
      count.ms += performance.now() - started
      if (problems.length === 0) return
      count.failures++
      if (saved) rmSync(saved, { force: true })
      saved = saveFixture({
        name: `found ${scheduleHash(schedule)}: ${problems[0]}`,
        about: `found by fast-check (disruptions: ${disruptions.join(', ') || 'none'}); the smallest failing schedule it shrank to`,
        seed: SEED,
        failure: problems.join('\n'),
        schedule,
      })
      throw new Error(`${problems.join('\n')}\nsaved as ${saved}`)
    },
    600_000,
  )
}

describe('random schedules on the simulated network', () => {
  everyScheduleConverges('in-order signaling with duplicates, media changes, ICE restarts, short delays and leave/join', [
    'duplicate',
    'leave',
  ])
  everyScheduleConverges('with reordering, long delays, signaling reconnects and reloads too', ALL_DISRUPTIONS)
})

const fixtures = loadFixtures()

describe('saved schedules replay on the simulated network', () => {
  for (const { file, fixture } of fixtures) {
    it(`${fixture.name} (${file})`, async () => {
      const { problems } = await runSchedule(fixture.schedule, simulatedBackend())
      expect(problems).toEqual([])
    })
  }
})

describe('saved schedules replay on libwebrtc', () => {
  for (const { file, fixture } of fixtures) {
    it(`${fixture.name} (${file})`, async () => {
      const { problems } = await runSchedule(fixture.schedule, libwebrtcBackend(), {}, { quantumMs: 500, maxMs: 10_000 })
      expect(problems).toEqual([])
    }, 60_000)
  }
})
