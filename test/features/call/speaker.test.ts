import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decide, DWELL_MS, GAP_MS, heard, HOLD_MS, NOBODY, type SpeakerState } from '../../../src/features/call/speaker'

type Said = { at: number; key: string; speaking: boolean }
type Switch = { at: number; from: string | null; to: string | null; state: SpeakerState }

/**
 * Plays a timeline as the hook does: each change heard is decided at once,
 * and between changes the state is decided again at every `wakeAt` asked
 * for. Goes on after the last change until nothing more is asked.
 */
function play(timeline: Said[], present: readonly string[]): { switches: Switch[]; end: SpeakerState } {
  let state = NOBODY
  let wakeAt: number | null = null
  const switches: Switch[] = []
  const step = (at: number) => {
    const before = state.current
    ;({ state, wakeAt } = decide(state, present, at))
    if (state.current !== before) switches.push({ at, from: before, to: state.current, state })
  }
  for (const said of timeline) {
    while (wakeAt !== null && wakeAt <= said.at) step(wakeAt)
    state = heard(state, said.key, said.speaking, said.at)
    step(said.at)
  }
  for (let i = 0; wakeAt !== null && i < 100; i++) step(wakeAt)
  expect(wakeAt, 'it stops asking to be woken').toBeNull()
  return { switches, end: state }
}

const PEOPLE = ['ann', 'ben', 'cy']

/** Changes at increasing times: who starts or stops speaking, with gaps from 50 ms to 5 s. */
const timelines = fc
  .array(fc.record({ dt: fc.integer({ min: 50, max: 5_000 }), key: fc.constantFrom(...PEOPLE), speaking: fc.boolean() }), {
    maxLength: 60,
  })
  .map((steps) => {
    let at = 0
    return steps.map(({ dt, key, speaking }) => ({ at: (at += dt), key, speaking }))
  })

const inTurn = (state: SpeakerState, key: string, at: number) => {
  const turn = state.turns[key]
  return turn !== undefined && (turn.until === null || at - turn.until < GAP_MS)
}

describe('follow the speaker', () => {
  it('never flaps: a speaker keeps the spotlight for the dwell time, and is replaced only once out of their turn', () => {
    fc.assert(
      fc.property(timelines, (timeline) => {
        const { switches } = play(timeline, PEOPLE)
        switches.forEach((s, i) => {
          const previous = switches[i - 1]
          if (previous) expect(s.at - previous.at).toBeGreaterThanOrEqual(DWELL_MS)
          if (s.from !== null) expect(inTurn(s.state, s.from, s.at)).toBe(false)
        })
      }),
    )
  })

  it('gives the spotlight only to someone whose turn has lasted the hold-off, and is still going', () => {
    fc.assert(
      fc.property(timelines, (timeline) => {
        for (const s of play(timeline, PEOPLE).switches) {
          expect(s.to).not.toBeNull()
          const turn = s.state.turns[s.to!]
          expect(s.at - turn.from).toBeGreaterThanOrEqual(HOLD_MS)
          expect(inTurn(s.state, s.to!, s.at)).toBe(true)
        }
      }),
    )
  })

  it('always ends up following whoever goes on speaking, whatever came before', () => {
    fc.assert(
      fc.property(timelines, (timeline) => {
        const end = (timeline.at(-1)?.at ?? 0) + 10
        const quiet = PEOPLE.map((key, i) => ({ at: end + i, key, speaking: false }))
        const { end: state } = play([...timeline, ...quiet, { at: end + 10, key: 'dee', speaking: true }], [...PEOPLE, 'dee'])
        expect(state.current).toBe('dee')
      }),
    )
  })

  it('lets a cough pass, holds through pauses between words, and lets the spotlight go when its speaker leaves', () => {
    const cough = play(
      [
        { at: 0, key: 'ann', speaking: true },
        { at: 400, key: 'ann', speaking: false },
      ],
      PEOPLE,
    )
    expect(cough.switches).toEqual([])

    // Ben speaks in bursts with 300 ms pauses: one turn, which takes the spotlight at 1.5 s.
    const bursts: Said[] = [0, 700, 1400, 2100].flatMap((at) => [
      { at, key: 'ben', speaking: true },
      { at: at + 400, key: 'ben', speaking: false },
    ])
    expect(play(bursts, PEOPLE).switches.map((s) => [s.at, s.to])).toEqual([[HOLD_MS, 'ben']])

    // Ann takes it; Ben talks over her and does not; she leaves, and he does.
    let state = heard(NOBODY, 'ann', true, 0)
    state = decide(state, PEOPLE, HOLD_MS).state
    expect(state.current).toBe('ann')
    state = heard(state, 'ben', true, 2_000)
    expect(decide(state, PEOPLE, 10_000).state.current).toBe('ann')
    expect(decide(state, ['ben', 'cy'], 10_000).state.current).toBe('ben')
  })
})
