/**
 * Follow the speaker: who takes the spotlight from whoever is speaking,
 * with a hold-off so that it never flaps. Pure: the state moves only by
 * {@link heard} (a tile's "speaking or not" changed) and {@link decide}
 * (what the spotlight is now, and when to ask again), so the rules are
 * testable on made-up timelines.
 *
 * - A turn is speech with pauses between words: a silence shorter than
 *   {@link GAP_MS} does not end it.
 * - Someone takes the spotlight after a turn of {@link HOLD_MS}: a cough
 *   or a laugh does not.
 * - Once in the spotlight, a speaker keeps it for at least {@link DWELL_MS},
 *   and for as long as their turn goes on: talking over them does not take
 *   it. When they stop, the spotlight stays with them until someone else
 *   has spoken for {@link HOLD_MS}.
 */

/** A silence shorter than this is a pause between words, not the end of a turn. */
export const GAP_MS = 600
/** Speaking this long takes the spotlight. */
export const HOLD_MS = 1_500
/** The least time a speaker keeps the spotlight. */
export const DWELL_MS = 4_000

/** A participant's current or last turn: when it began, and when its speech last stopped (null while speaking). */
export type Turn = { from: number; until: number | null }

export type SpeakerState = {
  /** Who has the spotlight by speaking, or nobody yet. */
  current: string | null
  /** When `current` took it. */
  since: number
  turns: Readonly<Record<string, Turn>>
}

export const NOBODY: SpeakerState = { current: null, since: -Infinity, turns: {} }

const inTurn = (turn: Turn | undefined, now: number): turn is Turn =>
  turn !== undefined && (turn.until === null || now - turn.until < GAP_MS)

/** A tile started (`speaking`) or stopped speaking at `now`. */
export function heard(state: SpeakerState, key: string, speaking: boolean, now: number): SpeakerState {
  const turn = state.turns[key]
  let next: Turn
  if (speaking) next = inTurn(turn, now) ? { from: turn.from, until: null } : { from: now, until: null }
  else if (turn && turn.until === null) next = { from: turn.from, until: now }
  else return state
  return { ...state, turns: { ...state.turns, [key]: next } }
}

/**
 * The spotlight at `now` among `present` (your own tile left out: you never
 * follow yourself), and the next moment it could change with nothing new
 * heard (null: not before something is).
 */
export function decide(state: SpeakerState, present: readonly string[], now: number): { state: SpeakerState; wakeAt: number | null } {
  let { current, since } = state
  if (current !== null && !present.includes(current)) {
    current = null
    since = -Infinity
  }
  const speaking = present
    .filter((key) => key !== current && inTurn(state.turns[key], now))
    .sort((a, b) => state.turns[a].from - state.turns[b].from)
  const ready = speaking.find((key) => now - state.turns[key].from >= HOLD_MS)
  const held = current !== null && (inTurn(state.turns[current], now) || now - since < DWELL_MS)
  if (ready !== undefined && !held) {
    current = ready
    since = now
  }
  const next = { ...state, current, since }
  // When a waiting speaker's turn reaches the hold-off, the dwell ends, or
  // the spotlit speaker's pause becomes the end of their turn.
  const currentTurn = current !== null ? state.turns[current] : undefined
  const moments = speaking
    .filter((key) => key !== current)
    .flatMap((key) => [state.turns[key].from + HOLD_MS, since + DWELL_MS, currentTurn?.until != null ? currentTurn.until + GAP_MS : now])
    .filter((t) => t > now)
  return { state: next, wakeAt: moments.length > 0 ? Math.min(...moments) : null }
}
