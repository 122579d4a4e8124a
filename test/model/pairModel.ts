/**
 * An abstract model of one pair of peers and the signaling channel between
 * them, for model-based tests with `xstate/graph`: its graph is small and
 * finite, and each path through it is a test of the real peer machines
 * (paths.test.ts says what each event does to a real pair).
 *
 * The state is the negotiation as the model predicts it, and nothing else:
 * which side has an offer outstanding, and which descriptions are in flight
 * each way (at most `maxInFlight`). The model follows descriptions,
 * not candidates: the candidates trickled after a description travel with
 * it. Side `a` is the polite one (`peer-a` < `peer-b`, createPeerPair's
 * default ids).
 *
 * It predicts perfect negotiation coarsely: it is a generator of event
 * sequences that keep both sides and the channel busy, not an oracle. The
 * test checks the real pair after each path, once everything in flight has
 * been delivered.
 */
import { assign, setup } from 'xstate'
import type { Side } from '../support/peerPair'

/**
 * A description in flight: an `offer`, an `answer`, an offer sent `again`
 * after a signaling reconnect (its first copy was delivered or is ahead of
 * it), or a `stale` one, which the receiver drops (addressed to a
 * connection that no longer exists, or an answer the offerer has already),
 * or the polite side's `request` that the impolite side restart ICE (the
 * polite side never makes a restart offer itself).
 */
export type Message = 'offer' | 'answer' | 'again' | 'stale' | 'request'

/** What an outstanding offer carries: a connection's first tracks, a track change, or an ICE restart. */
export type Offer = 'first' | 'change' | 'restart'

export type PairState = {
  /** Descriptions in flight from each side, oldest first. */
  inFlight: Record<Side, Message[]>
  /** Each side's outstanding offer (it is in have-local-offer), if any. */
  offer: Record<Side, Offer | null>
  /** `a` was spawned as the side already in the room, and waits for b's first offer. */
  waiting: boolean
  /**
   * Descriptions in flight per direction, at most: the bound that keeps the
   * graph small. Two let an answer and an offer travel together (the
   * isSettingRemoteAnswerPending case).
   */
  maxInFlight: number
  /** Signaling reconnects so far (at most {@link MAX_RECONNECTS}: the bound that keeps the graph small). */
  reconnects: number
}

/**
 * Who makes the first offer: both sides at once (`glare`), or only b, the
 * newcomer, as the room has it (`newcomer`: a waits for b's offer).
 */
export type Start = 'glare' | 'newcomer'

export type PairModelContext = PairState & {
  /** Events taken so far, counted only when `maxDepth` bounds the paths. */
  depth: number
  maxDepth: number | null
}

/** What becomes of the messages in flight when the signaling socket reconnects. */
export type InFlightOnReconnect = 'dropped' | 'replayed'

export type PairModelEvent =
  | { type: 'NEGOTIATE_A' }
  | { type: 'NEGOTIATE_B' }
  | { type: 'DELIVER_A_TO_B' }
  | { type: 'DELIVER_B_TO_A' }
  | { type: 'ICE_FAIL_A' }
  | { type: 'ICE_FAIL_B' }
  | { type: 'SIGNALING_RECONNECT'; inFlight: InFlightOnReconnect }
  | { type: 'LEAVE_REJOIN_B' }

/** Every event of the model, payloads included: the traversal tries each in every state. */
export const MODEL_EVENTS: readonly PairModelEvent[] = [
  { type: 'NEGOTIATE_A' },
  { type: 'NEGOTIATE_B' },
  { type: 'DELIVER_A_TO_B' },
  { type: 'DELIVER_B_TO_A' },
  { type: 'ICE_FAIL_A' },
  { type: 'ICE_FAIL_B' },
  { type: 'SIGNALING_RECONNECT', inFlight: 'dropped' },
  { type: 'SIGNALING_RECONNECT', inFlight: 'replayed' },
  { type: 'LEAVE_REJOIN_B' },
]

/** Descriptions in flight per direction, at most: the bound that keeps the graph small. */
export const POLITE: Side = 'a'
const other = (side: Side): Side => (side === 'a' ? 'b' : 'a')

export const MAX_RECONNECTS = 1

export const INITIAL: Record<Start, PairState> = {
  // Both sides are initiators: their first offers cross.
  glare: { inFlight: { a: ['offer'], b: ['offer'] }, offer: { a: 'first', b: 'first' }, waiting: false, maxInFlight: 2, reconnects: 0 },
  // A smaller graph: the glare start explores what two in flight bring.
  newcomer: { inFlight: { a: [], b: ['offer'] }, offer: { a: null, b: 'first' }, waiting: true, maxInFlight: 1, reconnects: 0 },
}

function copy(state: PairState): PairState {
  return { ...state, inFlight: { a: [...state.inFlight.a], b: [...state.inFlight.b] }, offer: { ...state.offer } }
}

function sendOffer(state: PairState, side: Side, offer: Offer): void {
  state.offer[side] = offer
  state.inFlight[side].push('offer')
}

/**
 * A track change or an ICE restart on a stable side: it offers. (A change
 * while an offer is outstanding would be offered once that one is
 * answered; the model leaves it out, to stay small.)
 */
function change(state: PairState, side: Side, offer: 'change' | 'restart'): PairState | null {
  // A side waiting for the first offer defers its own until that offer has come.
  if (state.offer[side] !== null || (side === 'a' && state.waiting)) return null
  const next = copy(state)
  sendOffer(next, side, offer)
  return next
}

/**
 * An ICE failure seen by `side`: the impolite side restarts (it offers);
 * the polite side asks the impolite side to.
 */
function iceFail(state: PairState, side: Side): PairState | null {
  if (side !== POLITE) return change(state, side, 'restart')
  if (state.offer[side] !== null || state.waiting) return null
  const next = copy(state)
  next.inFlight[side].push('request')
  return next
}

/** The oldest description (or restart request) from `from` reaches the other side. */
function deliver(state: PairState, from: Side): PairState | null {
  if (state.inFlight[from].length === 0) return null
  const next = copy(state)
  const to = other(from)
  const message = next.inFlight[from].shift()
  if (message === 'stale') return next
  // A request finds the impolite side with an offer of its own under way (it
  // is dropped: that offer answers it), or stable (it restarts).
  if (message === 'request') {
    if (next.offer[to] === null) sendOffer(next, to, 'restart')
    return next
  }
  if (message === 'answer') {
    next.offer[to] = null
    return next
  }
  const outstanding = next.offer[to]
  // Glare: the impolite side ignores the offer; the polite side rolls its own back.
  if (outstanding !== null && to !== POLITE) return next
  if (to === 'a') next.waiting = false
  // An offer sent again was taken already (its first copy came before it):
  // the receiver sends its answer again, which the offerer has by then.
  if (message === 'again') {
    next.inFlight[to].push('stale')
    return next
  }
  next.offer[to] = null
  next.inFlight[to].push('answer')
  // A rolled-back first offer is taken up by the remote's (the same kinds of
  // track); anything else is offered again once the answer is set.
  if (outstanding !== null && outstanding !== 'first') sendOffer(next, to, outstanding)
  return next
}

/**
 * The signaling socket comes back: each side sends the offer it is waiting
 * on again, with its number (never rolled back: the other side may have
 * applied it). What was in flight is `dropped` (lost with the socket: the
 * offer sent again is then the one that counts) or `replayed` (delivered
 * after the reconnect, ahead of the offer sent again).
 */
function reconnect(state: PairState, inFlight: InFlightOnReconnect): PairState | null {
  const sides = ['a', 'b'] as const
  if (sides.every((side) => state.offer[side] === null) || state.reconnects >= MAX_RECONNECTS) return null
  const next = copy(state)
  next.reconnects++
  for (const side of sides) {
    if (inFlight === 'dropped') next.inFlight[side] = []
    if (next.offer[side] !== null) next.inFlight[side].push(inFlight === 'dropped' ? 'offer' : 'again')
  }
  return next
}

/**
 * `b` leaves and comes back with the same id: a new connection, which makes
 * its first offer at once. What `a` sent to the old one is stale, and `a`
 * starts over (or, if it never heard of the old one, takes it as glare) when
 * the new offer reaches it.
 */
function rejoin(state: PairState): PairState {
  const next = copy(state)
  next.inFlight.a = next.inFlight.a.map((): Message => 'stale')
  next.inFlight.b = ['offer']
  next.offer.b = 'first'
  return next
}

/** The state after `event`, or null when the model does not allow it there. */
export function nextState(state: PairState, event: PairModelEvent): PairState | null {
  const next = (() => {
    switch (event.type) {
      case 'NEGOTIATE_A':
        return change(state, 'a', 'change')
      case 'NEGOTIATE_B':
        return change(state, 'b', 'change')
      case 'ICE_FAIL_A':
        return iceFail(state, 'a')
      case 'ICE_FAIL_B':
        return iceFail(state, 'b')
      case 'DELIVER_A_TO_B':
        return deliver(state, 'a')
      case 'DELIVER_B_TO_A':
        return deliver(state, 'b')
      case 'SIGNALING_RECONNECT':
        return reconnect(state, event.inFlight)
      case 'LEAVE_REJOIN_B':
        return rejoin(state)
    }
  })()
  if (!next || next.inFlight.a.length > state.maxInFlight || next.inFlight.b.length > state.maxInFlight) return null
  return next
}

const pairState = ({ inFlight, offer, waiting, maxInFlight, reconnects }: PairModelContext): PairState => ({
  inFlight,
  offer,
  waiting,
  maxInFlight,
  reconnects,
})

/**
 * The model machine. Given `maxDepth`, every path ends after that many
 * events: the depth is then part of the state, so the machine's simple
 * paths are all the event sequences up to that length.
 *
 * @example
 * const model = createTestModel(pairModel, { events: MODEL_EVENTS })
 * model.getShortestPaths() // one path to each state of the pair
 */
export const pairModel = setup({
  types: {
    context: {} as PairModelContext,
    events: {} as PairModelEvent,
    input: {} as { maxDepth?: number; start?: Start } | undefined,
  },
  guards: {
    allowed: ({ context, event }) =>
      (context.maxDepth === null || context.depth < context.maxDepth) && nextState(pairState(context), event) !== null,
  },
  actions: {
    take: assign(({ context, event }) => ({
      ...(nextState(pairState(context), event) ?? pairState(context)),
      depth: context.maxDepth === null ? 0 : context.depth + 1,
    })),
  },
}).createMachine({
  id: 'pair',
  context: ({ input }) => ({ ...copy(INITIAL[input?.start ?? 'glare']), depth: 0, maxDepth: input?.maxDepth ?? null }),
  on: {
    NEGOTIATE_A: { guard: 'allowed', actions: 'take' },
    NEGOTIATE_B: { guard: 'allowed', actions: 'take' },
    DELIVER_A_TO_B: { guard: 'allowed', actions: 'take' },
    DELIVER_B_TO_A: { guard: 'allowed', actions: 'take' },
    ICE_FAIL_A: { guard: 'allowed', actions: 'take' },
    ICE_FAIL_B: { guard: 'allowed', actions: 'take' },
    SIGNALING_RECONNECT: { guard: 'allowed', actions: 'take' },
    LEAVE_REJOIN_B: { guard: 'allowed', actions: 'take' },
  },
})
