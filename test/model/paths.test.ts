import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createTestModel } from 'xstate/graph'
import type { LocalTracks } from '../../machines/localTracks'
import { nodeWebRTC } from '../../machines/node/wrtc'
import type { PeerTimings } from '../../machines/peer/types'
import { peerMachine } from '../../machines/peerMachine'
import type { MediaStreamTrackLike, PeerConnectionLike, WebRTCImpl } from '../../machines/webrtc'
import type { SignalData } from '../../protocol/messages'
import { createPeerPair, type Side } from '../support/peerPair'
import { createSimulatedNetwork, type SimulatedNetwork } from '../support/simulatedWebRTC'
import { createCoverage, formatCoverage, machineTransitions, uncovered } from './coverage'
import { INITIAL, MODEL_EVENTS, nextState, pairModel, POLITE, type PairModelEvent, type PairState, type Start } from './pairModel'

// Model-based tests of one pair: paths through the abstract pair model
// (pairModel.ts), generated with xstate/graph, run against two real peer
// machines through createPeerPair, with the signaling held. What each model
// event does to the real pair:
// - NEGOTIATE_X: X starts (or stops) sharing its screen (`media.tracks`),
//   which adds (or removes) a sender and so needs a negotiation.
// - DELIVER_X_TO_Y: the next description X sent reaches Y, with the
//   candidates queued before it and after it (up to the next description).
// - ICE_FAIL_X: X's ICE fails. Two libwebrtc peers on one loopback interface
//   cannot be made to fail, so on libwebrtc this is the restart that a
//   failure starts (`ui.restartIce`); on the simulated network it is a real
//   partition (see ICE_FAILURES).
// - SIGNALING_RECONNECT: the room's `room.signalingRestored` to both sides,
//   which send the offer they wait on again. `dropped`: what was in flight
//   is lost with the socket, and the last description each side had
//   delivered (with its candidates) comes again, which must be dropped as
//   stale. `replayed`: what was in flight arrives after the reconnect.
// - LEAVE_REJOIN_B: b leaves and comes back with the same id (`restart('b')`).
// After each path everything in flight is delivered, and the pair must
// converge: stable, connected, the same transceivers on both sides, each
// receiving what the other sends, the data channel carrying messages both
// ways, no errors, and no offer ever ignored by the polite side.

type Pair = ReturnType<typeof createPeerPair>
type Step = PairModelEvent
/** A path: how the pair starts, and the model's events. */
type Path = { start: Start; steps: Step[] }

/** Simple paths are generated up to this many events: with the shortest paths, under 60 paths to run. */
const SIMPLE_DEPTH = 2
/** How many of the paths with an ICE failure also run on the simulated network. */
const SIMULATED_PATHS = 10

const coverage = createCoverage(peerMachine)

// ---------------------------------------------------------------------------
// Paths

const stepName = (step: Step) => (step.type === 'SIGNALING_RECONNECT' ? `${step.type}(${step.inFlight})` : step.type)
const name = (path: Path) => `${path.start === 'newcomer' ? '[b offers first] ' : ''}${path.steps.map(stepName).join(' → ')}`
const isModelEvent = (event: { type: string }): event is Step => MODEL_EVENTS.some((e) => e.type === event.type)
/** A generated path's events, without the initial `xstate.init`. */
const eventsOf =
  (start: Start) =>
  (path: { steps: { event: { type: string } }[] }): Path => ({
    start,
    steps: path.steps.flatMap(({ event }) => (isModelEvent(event) ? [event] : [])),
  })

/** Drops every path that is a prefix of another (or the same as one): running the longer one runs it too. */
function distinct(paths: Path[]): Path[] {
  const byName = new Map(paths.filter((p) => p.steps.length > 0).map((p) => [name(p), p]))
  const names = [...byName.keys()]
  return names.filter((n) => !names.some((other) => other.startsWith(`${n} → `))).map((n) => byName.get(n)!)
}

const traversal = { events: MODEL_EVENTS }
const generated = (['glare', 'newcomer'] as const).map((start) => {
  const model = createTestModel(pairModel, { ...traversal, input: { start } })
  return {
    start,
    states: Object.keys(model.getAdjacencyMap()).length,
    shortest: model.getShortestPaths().map(eventsOf(start)),
    simple: createTestModel(pairModel, { ...traversal, input: { start, maxDepth: SIMPLE_DEPTH } })
      .getSimplePaths()
      .map(eventsOf(start)),
  }
})
const paths = distinct(generated.flatMap((g) => [...g.shortest, ...g.simple]))
const isIceFailure = (step: Step) => step.type === 'ICE_FAIL_A' || step.type === 'ICE_FAIL_B'
/** Whether the model has every ICE failure of the path come with nothing in flight and no offer outstanding. */
function failsWhenSettled(path: Path): boolean {
  let state: PairState | null = INITIAL[path.start]
  for (const step of path.steps) {
    if (!state) return false
    const settled = state.inFlight.a.length + state.inFlight.b.length === 0 && !state.offer.a && !state.offer.b
    if (isIceFailure(step) && !settled) return false
    state = nextState(state, step)
  }
  return true
}
/**
 * The shortest paths with an ICE failure, half of them failing a settled
 * pair (on the simulated network, the connection is up only once the
 * candidates are through), half failing it while it is still negotiating.
 */
const simulatedPaths = (() => {
  const failing = paths.filter((path) => path.steps.some(isIceFailure)).sort((x, y) => x.steps.length - y.steps.length)
  const settled = failing.filter(failsWhenSettled)
  const negotiating = failing.filter((path) => !failsWhenSettled(path))
  return [...settled.slice(0, SIMULATED_PATHS / 2), ...negotiating.slice(0, SIMULATED_PATHS / 2)]
})()

for (const g of generated) {
  console.log(
    `pair model (${g.start}): ${g.states} states; ${g.shortest.length} shortest paths, ${g.simple.length} simple paths of up to ${SIMPLE_DEPTH} events`,
  )
}
console.log(`${paths.length} distinct paths run on libwebrtc, ${simulatedPaths.length} of them also on the simulated network`)

// ---------------------------------------------------------------------------
// Backends

type Backend = {
  name: 'libwebrtc' | 'simulated'
  timings?: Partial<PeerTimings>
  webrtc(side: Side): WebRTCImpl
  iceFail(pair: Pair, side: Side): Promise<void>
}

/** A Node runtime for each side, with small synthetic cameras. */
const nodeSides = (): Record<Side, ReturnType<typeof nodeWebRTC>> => ({
  a: nodeWebRTC({ label: 'a', width: 160, height: 120, fps: 10 }),
  b: nodeWebRTC({ label: 'b', width: 160, height: 120, fps: 10 }),
})

function libwebrtc(): Backend {
  const webrtc = nodeSides()
  return {
    name: 'libwebrtc',
    webrtc: (side) => webrtc[side],
    // A real ICE failure cannot be caused between two libwebrtc peers on one
    // loopback interface: this is the restart that a failure starts.
    async iceFail(pair, side) {
      pair.refs[side].send({ type: 'ui.restartIce' })
    },
  }
}

/** Short delays, so that a failure runs its course (restarts, backoff, giving up) in a second or so, and an offer held through an outage is sent again. */
const SIMULATED_TIMINGS: Partial<PeerTimings> = {
  disconnectedMs: 200,
  restartBackoffMs: 150,
  maxRestarts: 3,
  connectTimeoutMs: 2_000,
  answerTimeoutMs: 1_000,
  // The channel's silence tells a partition too: a heartbeat every 100 ms,
  // silent after 300 ms without a message.
  heartbeatMs: 100,
  silenceMs: 300,
}

type IceFailure = (network: SimulatedNetwork, pair: Pair, side: Side) => Promise<void>

/**
 * Ways ICE fails on the simulated network, taken in turn by the
 * simulated paths' ICE_FAIL events. Each partitions the pair (both sides
 * lose connectivity) and heals it once `side` has reacted.
 */
const ICE_FAILURES: Record<string, IceFailure> = {
  /** Connectivity checks fail at once: the side restarts on `failed`. */
  async failed(network, pair, side) {
    const before = at(pair, side).context.totalRestarts
    network.partition('a', 'b')
    await until(
      pair,
      () => at(pair, side).context.totalRestarts > before,
      `${side} to restart on failed`,
      () => network.advance(),
    )
    network.heal('a', 'b')
  },
  /** The connection stays `disconnected` past the delay: the side restarts without a failure. */
  async disconnectedTooLong(network, pair, side) {
    const before = at(pair, side).context.totalRestarts
    network.partition('a', 'b')
    await until(pair, () => at(pair, side).context.totalRestarts > before, `${side} to restart after the disconnected delay`)
    network.heal('a', 'b')
  },
  /** The user restarts ICE while the connection is down. */
  async restartWhileDown(network, pair, side) {
    network.partition('a', 'b')
    if (at(pair, side).hasTag('connected')) {
      await until(pair, () => at(pair, side).matches({ active: { connection: 'disconnected' } }), `${side} disconnected`)
    }
    pair.refs[side].send({ type: 'ui.restartIce' })
    network.heal('a', 'b')
  },
  /** The path dies without ICE noticing: the channel's silence disconnects the side, and the heartbeat, heard again, reconnects it. */
  async stalled(network, pair, side) {
    network.stall('a', 'b')
    await until(pair, () => at(pair, side).hasTag('reconnecting'), `${side} to hear nothing and disconnect`)
    network.unstall('a', 'b')
  },
  /** Out until the side gives up; once the network is back, the user retries (and restarts the other side, if it gave up too). */
  async outageThenRetry(network, pair, side) {
    network.partition('a', 'b')
    await until(
      pair,
      () => at(pair, side).hasTag('failed'),
      `${side} to give up`,
      () => network.advance(),
    )
    network.heal('a', 'b')
    pair.refs[side].send({ type: 'ui.retry' })
    const remote = side === 'a' ? 'b' : 'a'
    if (at(pair, remote).hasTag('failed')) pair.refs[remote].send({ type: 'ui.restartIce' })
  },
  /** Out until both sides give up; once the network is back, the other side's user restarts ICE, which brings both back. */
  async outageThenRemoteRestart(network, pair, side) {
    network.partition('a', 'b')
    const remote = side === 'a' ? 'b' : 'a'
    await until(
      pair,
      () => at(pair, side).hasTag('failed') && at(pair, remote).hasTag('failed'),
      'both sides to give up',
      () => network.advance(),
    )
    network.heal('a', 'b')
    pair.refs[remote].send({ type: 'ui.restartIce' })
  },
}
const SHAPES = Object.values(ICE_FAILURES)

/**
 * The simulated network for the `index`-th simulated path: its ICE
 * failures take the shapes in turn, starting from the `index`-th.
 */
function simulated(index: number, path: Path): Backend {
  const network = createSimulatedNetwork()
  const webrtc = { a: network.webrtc('a'), b: network.webrtc('b') }
  const shapes = path.steps.filter(isIceFailure).map((_, j) => SHAPES[(index + j) % SHAPES.length])
  let failures = 0
  return {
    name: 'simulated',
    timings: SIMULATED_TIMINGS,
    webrtc: (side) => webrtc[side],
    iceFail: (pair, side) => shapes[failures++](network, pair, side),
  }
}

async function camera(webrtc: WebRTCImpl, live: MediaStreamTrackLike[]): Promise<LocalTracks> {
  const stream = await webrtc.getUserMedia({ audio: true, video: true })
  live.push(...stream.getTracks())
  return { stream, audio: stream.getAudioTracks()[0], video: stream.getVideoTracks()[0], screenStream: null, screen: null }
}

// ---------------------------------------------------------------------------
// Waiting

const at = (pair: Pair, side: Side) => pair.refs[side].getSnapshot()
const inNegotiation = (pair: Pair, side: Side, state: 'stable' | 'awaitingAnswer' | 'waitingForOffer') =>
  at(pair, side).matches({ active: { negotiation: state } })
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

function describePair(pair: Pair) {
  const side = (s: Side) => {
    const { context, value } = at(pair, s)
    return {
      value,
      signalingState: context.link.pc.signalingState,
      connectionState: context.link.pc.connectionState,
      remoteTracks: context.link.remoteTracks,
      errors: context.errors,
      inFlight: pair.queues[s].map((m) => (m.kind === 'description' ? m.description.type : m.kind)),
    }
  }
  return JSON.stringify({ a: side('a'), b: side('b') }, null, 1)
}

/** Polls `check` (every few ms, running `between` in between) until it holds; fails with `what` and the pair's state. */
async function until(pair: Pair, check: () => boolean, what: string, between?: () => Promise<void>, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${describePair(pair)}`)
    await between?.()
    await sleep(5)
  }
}

/** How the pair looks from outside; unchanged for a while means nothing is under way. */
function signature(pair: Pair): string {
  return JSON.stringify(
    (['a', 'b'] as const).map((s) => {
      const { value, context } = at(pair, s)
      return [value, context.link.pc.signalingState, context.link.pc.iceGatheringState, pair.sent[s].length, pair.queues[s].length]
    }),
  )
}

/** How long the pair must not change to count as quiet: negotiationneeded fires a moment after stable. */
const QUIET_MS = 30

/** Waits until `check` holds and the pair has been quiet for a while. */
async function quietly(pair: Pair, check: () => boolean, what: string): Promise<void> {
  let last = ''
  let since = Date.now()
  await until(
    pair,
    () => {
      const now = signature(pair)
      if (now !== last) [last, since] = [now, Date.now()]
      return check() && Date.now() - since >= QUIET_MS
    },
    what,
  )
}

/**
 * Neither side has negotiation work under way: each is stable or waiting on
 * an answer, as its connection says too, and has gathered its candidates.
 */
function atRest(pair: Pair): boolean {
  return (['a', 'b'] as const).every((s) => {
    const { pc } = at(pair, s).context.link
    const consistent =
      ((inNegotiation(pair, s, 'stable') || inNegotiation(pair, s, 'waitingForOffer')) && pc.signalingState === 'stable') ||
      (inNegotiation(pair, s, 'awaitingAnswer') && pc.signalingState === 'have-local-offer')
    return consistent && pc.iceGatheringState !== 'gathering'
  })
}

const sending = (tracks: LocalTracks) => ({ audio: tracks.audio !== null, video: tracks.video !== null, screen: tracks.screen !== null })
const mids = (pair: Pair, side: Side) =>
  at(pair, side)
    .context.link.pc.getTransceivers()
    .map((t) => t.mid)
const descriptions = (pair: Pair, side: Side) => pair.sent[side].filter((m) => m.kind === 'description').length

/** Both sides stable, connected, with an open channel, the same transceivers, and receiving what the other sends. */
function converged(pair: Pair): boolean {
  return (['a', 'b'] as const).every((s) => {
    const remote = s === 'a' ? 'b' : 'a'
    const snapshot = at(pair, s)
    return (
      inNegotiation(pair, s, 'stable') &&
      snapshot.context.link.pc.signalingState === 'stable' &&
      snapshot.hasTag('connected') &&
      snapshot.matches({ active: { channel: 'open' } }) &&
      JSON.stringify(snapshot.context.link.remoteTracks) === JSON.stringify(sending(at(pair, remote).context.localTracks)) &&
      JSON.stringify(mids(pair, s)) === JSON.stringify(mids(pair, remote)) &&
      pair.queues[s].length === 0
    )
  })
}

/** Descriptions a side may send once everything is delivered: a pair that converges needs a few. */
const MAX_RENEGOTIATION = 8

// ---------------------------------------------------------------------------
// Running a path

type Run = {
  backend: Backend
  pair: Pair
  /** Everything delivered from each side, in order: what the room replays from. */
  delivered: Record<Side, SignalData[]>
  /** Tracks to stop when the path is done. */
  tracks: MediaStreamTrackLike[]
}

/** What the model counts as a message: a description, or the polite side's request for an ICE restart. */
const isModelMessage = (m: SignalData) => m.kind === 'description' || m.kind === 'restart'

/** Delivers the next description (or restart request) from `from` with the candidates before it and after it (up to the next one). */
function deliverNext(run: Run, from: Side): void {
  const queue = run.pair.queues[from]
  const first = queue.findIndex(isModelMessage)
  const next = first < 0 ? -1 : queue.findIndex((m, i) => i > first && isModelMessage(m))
  const count = next < 0 ? queue.length : next
  for (let i = 0; i < count; i++) {
    const data = run.pair.deliver(from)
    if (data) run.delivered[from].push(data)
  }
}

/**
 * Delivers the candidates at the head of each queue: trickled after a
 * description that was delivered already, they travel with it. Returns
 * whether there were any.
 */
function trickle(run: Run): boolean {
  let any = false
  for (const side of ['a', 'b'] as const) {
    const queue = run.pair.queues[side]
    if (!run.delivered[side].some((m) => m.kind === 'description')) continue
    while (queue.length > 0 && !isModelMessage(queue[0])) {
      const data = run.pair.deliver(side)
      if (data) run.delivered[side].push(data)
      any = true
    }
  }
  return any
}

/** Waits until both sides are at rest, with the candidates of what was delivered delivered too. */
async function settle(run: Run, what: string): Promise<void> {
  do await quietly(run.pair, () => atRest(run.pair), what)
  while (trickle(run))
}

/** The last description delivered from `side`, and the candidates delivered after it. */
function lastDelivered(run: Run, side: Side): SignalData[] {
  const all = run.delivered[side]
  const last = all.map((m) => m.kind).lastIndexOf('description')
  return last < 0 ? [] : all.slice(last)
}

async function toggleScreen(run: Run, side: Side): Promise<void> {
  const ref = run.pair.refs[side]
  const tracks = ref.getSnapshot().context.localTracks
  if (tracks.screen) {
    ref.send({ type: 'media.tracks', tracks: { ...tracks, screen: null, screenStream: null } })
    return
  }
  const getDisplayMedia = run.backend.webrtc(side).getDisplayMedia
  if (!getDisplayMedia) throw new Error(`${run.backend.name} has no getDisplayMedia`)
  const screenStream = await getDisplayMedia({ video: true })
  run.tracks.push(...screenStream.getTracks())
  ref.send({ type: 'media.tracks', tracks: { ...tracks, screenStream, screen: screenStream.getVideoTracks()[0] } })
}

async function perform(run: Run, step: Step): Promise<void> {
  const { pair } = run
  switch (step.type) {
    case 'NEGOTIATE_A':
      return toggleScreen(run, 'a')
    case 'NEGOTIATE_B':
      return toggleScreen(run, 'b')
    case 'DELIVER_A_TO_B':
      return deliverNext(run, 'a')
    case 'DELIVER_B_TO_A':
      return deliverNext(run, 'b')
    case 'ICE_FAIL_A':
      return run.backend.iceFail(pair, 'a')
    case 'ICE_FAIL_B':
      return run.backend.iceFail(pair, 'b')
    case 'SIGNALING_RECONNECT': {
      const replay = step.inFlight === 'dropped' ? { a: lastDelivered(run, 'a'), b: lastDelivered(run, 'b') } : { a: [], b: [] }
      if (step.inFlight === 'dropped') {
        pair.queues.a.length = 0
        pair.queues.b.length = 0
      }
      pair.refs.a.send({ type: 'room.signalingRestored' })
      pair.refs.b.send({ type: 'room.signalingRestored' })
      for (const side of ['a', 'b'] as const) for (const data of replay[side]) pair.redeliver(side, data)
      return
    }
    case 'LEAVE_REJOIN_B':
      pair.restart('b')
      return
  }
}

/** Runs `path` on a new pair, recording the peer machine's coverage under `label`. */
async function runPath(backend: Backend, path: Path, label: string = backend.name): Promise<void> {
  const webrtc = { a: backend.webrtc('a'), b: backend.webrtc('b') }
  const tracks: MediaStreamTrackLike[] = []
  const pair = createPeerPair({
    webrtc,
    tracks: { a: await camera(webrtc.a, tracks), b: await camera(webrtc.b, tracks) },
    // a waits for b's first offer for as long as the path takes.
    timings: path.start === 'newcomer' ? { ...backend.timings, firstOfferWaitMs: 60_000 } : backend.timings,
    initiators: { a: path.start === 'glare', b: true },
    inspect: coverage.inspect(label),
  })
  try {
    await checkPath({ backend, pair, delivered: { a: [], b: [] }, tracks }, path)
  } finally {
    pair.stop()
    for (const track of tracks) track.stop()
  }
}

/** Takes the pair through `path`, delivers everything, and checks that it converged. */
async function checkPath(run: Run, path: Path): Promise<void> {
  const { pair } = run
  await settle(run, 'the first offers')
  for (const [index, step] of path.steps.entries()) {
    await perform(run, step)
    await settle(run, `both sides at rest after step ${index + 1} (${stepName(step)}) of ${name(path)}`)
  }

  const before = { a: descriptions(pair, 'a'), b: descriptions(pair, 'b') }
  // Each description still held for a side may bring two back (an answer
  // sent again, and the side's own offer again): offers sent again and again
  // while the path held them arrive in a burst.
  const held = (s: Side) => pair.queues[s].filter((m) => m.kind === 'description').length
  const limit = { a: MAX_RENEGOTIATION + 2 * held('b'), b: MAX_RENEGOTIATION + 2 * held('a') }
  pair.setAuto('a', true)
  pair.setAuto('b', true)
  await quietly(
    pair,
    () => {
      for (const s of ['a', 'b'] as const) {
        // Fail at once rather than time out: an error does not go away, and
        // a pair that keeps renegotiating never settles.
        const { errors } = at(pair, s).context
        if (errors.length > 0) throw new Error(`${s} recorded an error after ${name(path)}: ${JSON.stringify(errors)}`)
        const sent = descriptions(pair, s) - before[s]
        if (sent > limit[s]) {
          throw new Error(`${s} sent ${sent} descriptions after ${name(path)}, renegotiating without end\n${describePair(pair)}`)
        }
      }
      return converged(pair)
    },
    `the pair to converge after ${name(path)}`,
  )

  const context = { a: at(pair, 'a').context, b: at(pair, 'b').context }
  for (const [s, r] of [
    ['a', 'b'],
    ['b', 'a'],
  ] as const) {
    expect(inNegotiation(pair, s, 'stable'), `${s} negotiation stable after ${name(path)}`).toBe(true)
    expect(context[s].link.pc.signalingState, `${s} signalingState after ${name(path)}`).toBe('stable')
    expect(at(pair, s).hasTag('connected'), `${s} connected after ${name(path)}`).toBe(true)
    expect(context[s].link.channel.readyState, `${s} data channel after ${name(path)}`).toBe('open')
    expect(mids(pair, s), `${s} transceivers after ${name(path)}`).toEqual(mids(pair, r))
    expect(context[s].link.remoteTracks, `what ${s} receives after ${name(path)}`).toEqual(sending(context[r].localTracks))
    expect(context[s].errors, `${s} errors after ${name(path)}`).toEqual([])
  }
  expect(context[POLITE].polite).toBe(true)
  expect(context[POLITE].ignoredOffers, `offers the polite side ignored after ${name(path)}`).toBe(0)

  for (const [s, r] of [
    ['a', 'b'],
    ['b', 'a'],
  ] as const) {
    const text = `hello from ${s}`
    pair.refs[s].send({ type: 'channel.send', message: { type: 'chat', id: `${s}-1`, text, sentAt: Date.now() } })
    const received = () => pair.chat[r].some((e) => e.type === 'peer.message' && e.message.type === 'chat' && e.message.text === text)
    await until(pair, received, `${r} to get ${s}'s chat message after ${name(path)}`)
  }
}

// ---------------------------------------------------------------------------
// Coverage

/** States no path reaches, and why. */
const UNREACHABLE_STATES: Record<string, string> = {}

/** Transitions no path covers, and why (what they need, and where they are tested instead). */
const UNCOVERED_TRANSITIONS: Record<string, string> = {
  'active · signal.* [isStaleSession]':
    "needs a message from b's old connection to reach a after one from its new connection: delivery is in " +
    "order, restart('b') loses what the old connection had in flight, and a reconnect replays only what was " +
    "delivered last (the new connection's, once a has heard it); tested in peerMachine.test.ts ('drops " +
    "signaling addressed to a connection that no longer exists') and by the schedules (duplicate steps)",
  'active · task.ignored':
    'needs addIceCandidate to reject a candidate while an offer is being ignored; the guards get there first: ' +
    'the candidates of an ignored first offer are queued (no remote description yet), those of an ignored ' +
    'restart offer carry a ufrag no remote description has and are dropped as of another ICE generation, and ' +
    'a renegotiation without restart (max-bundle) sends no new candidates',
  'active · ui.wantVideo [changesWantVideo]':
    "the UI's wish for a peer's video (audio only, that person's video off, a hidden page); the model's pair has " +
    "no UI; tested in mesh.test.ts ('a peer that does not want someone's video stops that sender's encoder') and " +
    "layout.test.ts ('audio only stops the video both ways')",
  'active · remote.wantsVideo': "raised by the data channel's video message, which only ui.wantVideo sends; tested by the same two tests",
  'active · room.uplink':
    "the room's new uplink budget when the low-bandwidth setting is switched; the model's pair has no room; tested in " +
    "mesh.test.ts ('the low-bandwidth setting switched during the call') and layout.test.ts ('low bandwidth during the call')",
  'active.connection.connected · task.route [isRelayed]':
    "the stats' word that the selected pair goes through a relay; the simulated connection has no TURN server; " +
    'tested by the symmetric-turn lab scenario (each bot hears the other share the pair as relayed, through coturn) ' +
    'and nat-direct (connected, never relayed)',
  'active.connection · room.networkChanged':
    "the runtime's network watch, through the room; the model's pair has no network of its own; tested in " +
    "mesh.test.ts ('a network change reconnects the socket at once') and by the network-switch lab scenario",
  'active.connection.disconnected · room.signalingRestored':
    "needs the room's socket reconnected while the pair is disconnected: the model's reconnect and its ICE " +
    'failures do not overlap so; tested by the network-switch-blind lab scenario (silence, probe, restart on the ' +
    "socket's return)",
  'active · room.meshSize':
    "the room's announcement when participants join or leave; a pair's mesh is 2 throughout (a rejoin keeps the " +
    "id); tested in peerMachine.test.ts ('sizes the video sender to the mesh')",
  'active.negotiation.waitingForOffer · after firstOfferWait':
    'the wait ending with nothing to negotiate: every connection is made with its data channel, which fires ' +
    'negotiationneeded at once, so the wait always ends in makingOffer (the guarded branch, covered)',
  'active.negotiation.makingOffer · done: setLocalDescription':
    'setLocalDescription() in makingOffer always makes an offer: a remote offer that arrives meanwhile either ' +
    'is ignored or takes the polite side out of makingOffer (to settingRemoteOffer) before it is applied',
  'active.connection.connected · pc.connectionState [isFailed]':
    'ICE leaves connected through disconnected on both backends (the simulation fails a connection only after ' +
    'disconnected; libwebrtc on loopback never fails): a direct connected → failed needs a DTLS failure',
  'active.connection.disconnected · always [newIceGeneration]':
    "needs the other side's restart offer to arrive while this side waits out its disconnected delay, with the " +
    'network still down; the model holds signaling until its delivery events, by when the side has restarted ' +
    'itself; tested in peerMachine.ice.test.ts ("takes the other side\'s restart as its own recovery") and on real ' +
    "libwebrtc by the network lab (link-cut: the far sides wait on the cut side's restart)",
  'active.connection.recovering · link.heard [restartCompleted]':
    'needs a restart negotiated while the channel is silent and ICE still says connected, then the channel heard: ' +
    'the model holds signaling, so the restart is negotiated only at its delivery events, after the stall has ' +
    "healed; tested in peerMachine.ice.test.ts ('a restart negotiated while the channel is silent')",
  'active.liveness.silent · link.watch':
    'needs ICE connected again while the channel stays silent; on the simulated network the channel carries ' +
    'messages whatever the ICE state, so once a partition heals it is heard before (or as) ICE reconnects; ' +
    'tested in peerMachine.ice.test.ts ("gives ICE\'s word a fresh wait")',
  'active · remote.candidate [isFromOldIceGeneration]':
    'needs candidates of an ICE generation that is no longer in force delivered after a newer one: the model ' +
    'delivers candidates with the description before them, and only the impolite side restarts (the polite ' +
    'side asks), so no rolled-back restart offer leaves candidates behind; tested in peerMachine.test.ts ' +
    "('drops candidates from before an ICE restart that arrive after it')",
  'active.connection.disconnected · pc.connectionState [isFailed]':
    'needs ICE to fail while the side waits out its disconnected delay; the simulated network fails a ' +
    "connection when its clock is advanced, which the paths do only while waiting on a side's restart, and " +
    'libwebrtc on loopback never fails; tested in peerMachine.ice.test.ts ("restarts ICE at once on failed")',
  'active.connection.disconnected · remote.restart [isCurrentRestartRequest]':
    "needs the polite side's request delivered while the impolite side still waits out its disconnected " +
    'delay; the model holds signaling until its delivery events, by when that side has restarted itself (and ' +
    'drops the request); tested in peerMachine.ice.test.ts ("the impolite side waiting out its disconnected delay")',
  'active.connection.failed · remote.restart [isCurrentRestartRequest]':
    'needs both sides to give up and the polite side to retry: the outage shapes retry or restart on the side ' +
    'whose failure the path names; tested in peerMachine.ice.test.ts ("an impolite side that gave up tries ' +
    'again when the polite side retries")',
  'active.connection.disconnected · pc.connectionState':
    'only connected and failed follow disconnected on the simulated network (closed never reaches the machine: ' +
    'the listeners go before the connection closes), and libwebrtc on loopback never disconnects',
}

const REPORT = 'test/artifacts/peer-coverage.txt'

// ---------------------------------------------------------------------------
// Tests

describe('the pair model on real libwebrtc', () => {
  for (const path of paths) {
    it(name(path), () => runPath(libwebrtc(), path), 30_000)
  }
})

describe('the pair model on the simulated network, where ICE really fails', () => {
  for (const [index, path] of simulatedPaths.entries()) {
    it(name(path), () => runPath(simulated(index, path), path), 30_000)
  }
})

// ---------------------------------------------------------------------------
// Faults: operations of the RTCPeerConnection that fail once

/** An operation of the connection that rejects once, the first time `when` holds. */
type Fault = {
  op: 'setLocalDescription' | 'setRemoteDescription' | 'addIceCandidate'
  when: (pc: PeerConnectionLike, argument: { type?: string; candidate?: string } | null | undefined) => boolean
  error: DOMException
}

/** `impl` whose connections reject each fault's operation once; `fired` lists those that did. */
function faulty(impl: WebRTCImpl, faults: Fault[]): { impl: WebRTCImpl; fired: Fault[] } {
  const fired: Fault[] = []
  const strike = (pc: PeerConnectionLike, op: Fault['op'], argument: Parameters<Fault['when']>[1]) => {
    const fault = faults.find((f) => f.op === op && !fired.includes(f) && f.when(pc, argument))
    if (!fault) return null
    fired.push(fault)
    return Promise.reject(fault.error)
  }
  class PeerConnection extends impl.RTCPeerConnection {
    override setLocalDescription(description?: RTCLocalSessionDescriptionInit): Promise<void> {
      return strike(this, 'setLocalDescription', description) ?? super.setLocalDescription(description)
    }
    override setRemoteDescription(description: RTCSessionDescriptionInit): Promise<void> {
      return strike(this, 'setRemoteDescription', description) ?? super.setRemoteDescription(description)
    }
    override addIceCandidate(candidate?: RTCIceCandidateInit | null): Promise<void> {
      return strike(this, 'addIceCandidate', candidate) ?? super.addIceCandidate(candidate)
    }
  }
  return { impl: { ...impl, RTCPeerConnection: PeerConnection }, fired }
}

const FAULT_TIMINGS: Partial<PeerTimings> = { answerTimeoutMs: 300, firstOfferWaitMs: 300 }
const failure = (message: string) => new DOMException(`injected: ${message}`, 'OperationError')
const typeError = (message: string) => new DOMException(`injected: ${message}`, 'InvalidAccessError')

/**
 * Each fault on one side of a pair where b makes the first offer (a waits
 * for it, as the side already in the room does). The failure must be
 * recorded where it happened, and the pair must still converge.
 */
const FAULTS: { name: string; side: Side; fault: Fault; where: string }[] = [
  {
    name: "a fails to apply b's offer: recorded; b sends the offer again when no answer comes, and a takes it",
    side: 'a',
    fault: { op: 'setRemoteDescription', when: (_, d) => d?.type === 'offer', error: failure('setRemoteDescription(offer)') },
    where: 'setRemoteDescription(offer)',
  },
  {
    name: "b fails to apply a's answer: recorded; b waits on, sends the offer again, and takes the answer a sends again",
    side: 'b',
    fault: { op: 'setRemoteDescription', when: (_, d) => d?.type === 'answer', error: failure('setRemoteDescription(answer)') },
    where: 'setRemoteDescription(answer)',
  },
  {
    name: 'a fails to make its answer: recorded; the offer sent again is answered',
    side: 'a',
    fault: {
      op: 'setLocalDescription',
      when: (pc) => pc.signalingState === 'have-remote-offer',
      error: failure('setLocalDescription(answer)'),
    },
    where: 'setLocalDescription(answer)',
  },
  {
    name: 'b fails to make its first offer: recorded; a, waiting for it, makes the first offer itself when its wait runs out',
    side: 'b',
    fault: { op: 'setLocalDescription', when: (pc) => pc.signalingState === 'stable', error: failure('setLocalDescription(offer)') },
    where: 'setLocalDescription(offer)',
  },
  {
    name: "a fails to add one of b's candidates: recorded as a failed task; ICE connects all the same",
    side: 'a',
    fault: { op: 'addIceCandidate', when: (_, c) => Boolean(c?.candidate), error: typeError('addIceCandidate') },
    where: 'task.addCandidate',
  },
]

describe('faults: an operation of the connection fails once, on libwebrtc', () => {
  for (const { name: title, side, fault, where } of FAULTS) {
    it(title, async () => {
      const tracks: MediaStreamTrackLike[] = []
      const real = nodeSides()
      const broken = faulty(real[side], [fault])
      const webrtc = { ...real, [side]: broken.impl }
      const pair = createPeerPair({
        webrtc,
        tracks: { a: await camera(real.a, tracks), b: await camera(real.b, tracks) },
        timings: FAULT_TIMINGS,
        initiators: { a: false, b: true },
        inspect: coverage.inspect('libwebrtc, faults'),
      })
      try {
        pair.setAuto('a', true)
        pair.setAuto('b', true)
        await until(pair, () => broken.fired.length === 1, `the fault to strike (${where})`)
        await quietly(pair, () => converged(pair), `the pair to converge after ${where} failed`)
        expect(at(pair, side).context.errors.map((e) => e.where)).toEqual([where])
        expect(at(pair, side === 'a' ? 'b' : 'a').context.errors).toEqual([])
      } finally {
        pair.stop()
        for (const track of tracks) track.stop()
      }
    })
  }
})

describe('coverage of the peer machine', () => {
  it('covers every state the pair can reach, and every transition but those listed with a reason', () => {
    const result = coverage.result()
    const report = formatCoverage(result, { states: UNREACHABLE_STATES, transitions: UNCOVERED_TRANSITIONS })
    console.log(report)
    mkdirSync(dirname(REPORT), { recursive: true })
    writeFileSync(REPORT, `${report}\n`)
    const missing = uncovered(result)
    expect(
      missing.states.filter((s) => !UNREACHABLE_STATES[s]),
      'states not covered, with no reason listed',
    ).toEqual([])
    expect(
      missing.transitions.filter((t) => !UNCOVERED_TRANSITIONS[t]),
      'transitions not covered, with no reason listed',
    ).toEqual([])
    // The lists name real states and transitions (a renamed one would leave a stale entry).
    const { states, transitions } = machineTransitions(peerMachine)
    expect(Object.keys(UNREACHABLE_STATES).filter((s) => !states.includes(s))).toEqual([])
    expect(Object.keys(UNCOVERED_TRANSITIONS).filter((t) => !transitions.some((d) => d.id === t))).toEqual([])
  })
})
