/**
 * A mesh of 2 to 4 participants for model tests: each participant is a
 * parent actor (standing in for its room machine) that spawns one peer
 * actor per other participant, and every directed pair has its own
 * signaling queue that the test drains, reorders, duplicates or replays.
 *
 * All actors share one XState {@link SimulatedClock}, so the machine's named
 * delays (answer timeout, first-offer wait, restart backoff…) pass only when
 * the test lets time pass.
 */
import { createActor, enqueueActions, setup, SimulatedClock, type Actor, type ActorRefFrom, type SnapshotFrom } from 'xstate'
import { silentLogger } from '../../lib/log'
import type { LocalTracks } from '../../machines/localTracks'
import { nodeWebRTC } from '../../machines/node/wrtc'
import { isPolite } from '../../machines/peer/connection'
import { signalEvent } from '../../machines/peer/session'
import type { PeerEvent, PeerInput, PeerOutputEvent, PeerTimings } from '../../machines/peer/types'
import { peerMachine } from '../../machines/peerMachine'
import type { MediaStreamLike, MediaStreamTrackLike, WebRTCImpl } from '../../machines/webrtc'
import type { SignalData } from '../../protocol/messages'
import { createSimulatedNetwork } from '../support/simulatedWebRTC'

/** What a participant sends. Audio and video are only ever added; the screen share comes and goes. */
export type MediaFlags = { audio: boolean; video: boolean; screen: boolean }

/** Who makes the first offer of a new pair: the later joiner (as the room does), or both sides (glare). */
export type Initiators = 'later' | 'both'

/** Where the connections live: the simulated network or real libwebrtc. */
export type Backend = {
  name: 'simulated' | 'libwebrtc'
  webrtc(id: string): WebRTCImpl
  /** A camera-and-microphone stream and a screen stream for one participant. */
  sources(webrtc: WebRTCImpl): Promise<{ camera: MediaStreamLike; screen: MediaStreamLike }>
  /** Runs until nothing is pending; `state` fingerprints the mesh for backends that must poll. */
  settle(state: () => string): Promise<void>
  /** Lets `count` tasks run (queued WebRTC work and events), each followed by its microtasks. */
  tasks(count: number): Promise<void>
  /** `ms` of time pass: the XState clock, and the network's own clock. */
  elapse(ms: number, clock: SimulatedClock): Promise<void>
  dispose(): void
}

/** Resolves once every microtask queued before it has run. */
export const microtasks = () => new Promise<void>((resolve) => setImmediate(resolve))

/** settle() gives up after this many tasks: a livelock is a bug in the machine or the test. */
const MAX_TASKS = 200_000

/**
 * The simulated network (test/support/simulatedWebRTC.ts), made to keep the
 * task/microtask order that webrtc-pc and HTML specify:
 *
 * - Its tasks run one at a time, only when the harness lets them, each after
 *   all microtasks have run. (The simulation's own pump runs a task after a
 *   fixed four microtask turns, which with a dozen busy connections fires
 *   `negotiationneeded` before the machine has taken the answer it just
 *   set: no browser does that, the event is a task.)
 * - `setLocalDescription`, `setRemoteDescription` and `addIceCandidate` start
 *   in a task of their own, as their "in parallel" steps take time in a
 *   browser: signaling delivered meanwhile finds the operation pending.
 */
export function simulatedBackend(): Backend {
  const network = createSimulatedNetwork()
  const queue: (() => void)[] = []
  // The Network behind the facade, reached through a connection.
  const probe = new (network.webrtc('probe').RTCPeerConnection)()
  const net = network.connections()[0].net
  probe.close()
  net.queueTask = (task) => {
    queue.push(task)
  }
  const later = <T>(operation: () => Promise<T>) =>
    new Promise<T>((resolve, reject) => queue.push(() => void operation().then(resolve, reject)))
  const runTasks = async (count: number) => {
    for (let i = 0; i < count && queue.length > 0; i++) {
      queue.shift()?.()
      await microtasks()
    }
  }
  return {
    name: 'simulated',
    webrtc(id) {
      const impl = network.webrtc(id)
      class PeerConnection extends impl.RTCPeerConnection {
        override setLocalDescription(description?: RTCLocalSessionDescriptionInit): Promise<void> {
          return later(() => super.setLocalDescription(description))
        }
        override setRemoteDescription(description: RTCSessionDescriptionInit): Promise<void> {
          return later(() => super.setRemoteDescription(description))
        }
        override addIceCandidate(candidate?: RTCIceCandidateInit | null): Promise<void> {
          return later(() => super.addIceCandidate(candidate))
        }
      }
      return { ...impl, RTCPeerConnection: PeerConnection }
    },
    async sources(webrtc) {
      const camera = await webrtc.getUserMedia({ audio: true, video: true })
      const screen = await webrtc.getDisplayMedia!({ video: true })
      return { camera, screen }
    },
    async settle() {
      await microtasks()
      for (let run = 0; queue.length > 0; run++) {
        if (run > MAX_TASKS) throw new Error(`the simulated network did not settle after ${MAX_TASKS} tasks`)
        await runTasks(1)
      }
    },
    tasks: runTasks,
    async elapse(ms, clock) {
      clock.increment(ms)
      await microtasks()
      // Fails what has been cut off for a while (ICE checking against a closed peer).
      await network.advance()
    },
    dispose() {},
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Real libwebrtc through `nodeWebRTC()`, with small synthetic media. Time in
 * `elapse` is real time too (capped), so ICE gets to run while timers fire.
 */
export function libwebrtcBackend(): Backend {
  const tracks: MediaStreamTrackLike[] = []
  return {
    name: 'libwebrtc',
    webrtc: (id) => nodeWebRTC({ label: id, width: 160, height: 120, fps: 5 }),
    async sources(webrtc) {
      const camera = await webrtc.getUserMedia({ audio: true, video: true })
      const screen = await webrtc.getDisplayMedia!({ video: true })
      tracks.push(...camera.getTracks(), ...screen.getTracks())
      return { camera, screen }
    },
    async settle(state) {
      // libwebrtc works on its own threads: quiet is when the mesh has not
      // changed for a few polls.
      let last = ''
      let quiet = 0
      for (let round = 0; round < 500 && quiet < 4; round++) {
        await sleep(10)
        const now = state()
        quiet = now === last ? quiet + 1 : 0
        last = now
      }
    },
    async tasks(count) {
      for (let i = 0; i < count; i++) await microtasks()
    },
    async elapse(ms, clock) {
      await sleep(Math.min(ms, 250))
      clock.increment(ms)
    },
    dispose() {
      for (const track of tracks.splice(0)) track.stop()
    },
  }
}

type PeerMachine = typeof peerMachine
type PeerRef = ActorRefFrom<PeerMachine>
export type PeerSnapshot = SnapshotFrom<PeerMachine>

type ParticipantEvent = PeerOutputEvent | { type: 'mesh.add'; peerId: string; input: PeerInput } | { type: 'mesh.remove'; peerId: string }

/** The room's part in a call, reduced to what negotiation needs: spawn, stop, route. */
function participantMachine(machine: PeerMachine, onSignal: (to: string, data: SignalData) => void) {
  let generation = 0
  return setup({
    types: { context: {} as { peers: Record<string, PeerRef> }, events: {} as ParticipantEvent },
    actors: { peer: machine },
  }).createMachine({
    context: { peers: {} },
    on: {
      'mesh.add': {
        actions: enqueueActions(({ event, enqueue }) => {
          enqueue.assign({
            peers: ({ context, spawn }) => ({
              ...context.peers,
              [event.peerId]: spawn('peer', { id: `${event.peerId}#${++generation}`, input: event.input }),
            }),
          })
        }),
      },
      'mesh.remove': {
        actions: enqueueActions(({ context, event, enqueue }) => {
          const ref = context.peers[event.peerId]
          if (!ref) return
          // Stopping the actor closes its RTCPeerConnection.
          enqueue.stopChild(ref)
          const { [event.peerId]: _gone, ...peers } = context.peers
          enqueue.assign({ peers })
        }),
      },
      'peer.signal': { actions: ({ event }) => onSignal(event.peerId, event.data) },
    },
  })
}

export type MeshOptions = {
  size: number
  backend: Backend
  initiators?: Initiators
  /** What each participant sends at first (default: nothing). */
  start?: MediaFlags[]
  timings?: Partial<PeerTimings>
  /** The peer machine, or a variant of it made with `.provide()` (planted bugs). */
  machine?: PeerMachine
}

export const PEER_IDS = ['a', 'b', 'c', 'd'] as const
const NO_MEDIA: MediaFlags = { audio: false, video: false, screen: false }

type Participant = {
  id: string
  webrtc: WebRTCImpl
  camera: MediaStreamLike
  screen: MediaStreamLike
  media: MediaFlags
  /** Null while away (between `leave` and `join`). */
  root: Actor<ReturnType<typeof participantMachine>> | null
}

/**
 * Builds the mesh: participants join in id order (`a` first), so for each
 * pair the later id makes the first offer unless `initiators` is `both`.
 *
 * @example
 * ```ts
 * const mesh = await createMesh({ size: 3, backend: simulatedBackend() })
 * await mesh.settle()
 * mesh.deliver('b', 'a') // the head of b's queue to a
 * await mesh.quiesce()
 * expect(mesh.problems()).toEqual([])
 * mesh.stop()
 * ```
 */
export async function createMesh(options: MeshOptions) {
  const { backend } = options
  const initiators = options.initiators ?? 'later'
  const machine = options.machine ?? peerMachine
  const clock = new SimulatedClock()
  const ids: string[] = PEER_IDS.slice(0, options.size)
  const queues = new Map<string, SignalData[]>()
  const delivered = new Map<string, SignalData[]>()
  /** Join order: a participant that rejoins goes to the end. */
  const joined: string[] = []
  const participants = new Map<string, Participant>()
  const key = (from: string, to: string) => `${from}>${to}`
  const list = (map: Map<string, SignalData[]>, k: string): SignalData[] => {
    const existing = map.get(k)
    if (existing) return existing
    const created: SignalData[] = []
    map.set(k, created)
    return created
  }

  for (const [index, id] of ids.entries()) {
    const webrtc = backend.webrtc(id)
    const { camera, screen } = await backend.sources(webrtc)
    participants.set(id, { id, webrtc, camera, screen, media: { ...(options.start?.[index] ?? NO_MEDIA) }, root: null })
  }

  const localTracks = (p: Participant): LocalTracks => ({
    stream: p.camera,
    audio: p.media.audio ? p.camera.getAudioTracks()[0] : null,
    video: p.media.video ? p.camera.getVideoTracks()[0] : null,
    screenStream: p.media.screen ? p.screen : null,
    screen: p.media.screen ? p.screen.getVideoTracks()[0] : null,
  })

  const inputFor = (self: Participant, peerId: string, initiator: boolean): PeerInput => ({
    selfId: self.id,
    peerId,
    webrtc: self.webrtc,
    iceServers: [],
    localTracks: localTracks(self),
    meshSize: ids.length,
    timings: options.timings,
    // Failures show in the machine's context (errors, states), which the checks read.
    log: silentLogger,
    initiator: initiators === 'both' || initiator,
  })

  const participant = (id: string): Participant => {
    const p = participants.get(id)
    if (!p) throw new Error(`no participant ${id} in a mesh of ${ids.join(', ')}`)
    return p
  }
  const present = (id: string) => participants.get(id)?.root != null

  /** Starts a session of `id`: a fresh parent with one peer actor per participant present. */
  function arrive(id: string, { othersSpawn }: { othersSpawn: boolean }) {
    const self = participant(id)
    const root = createActor(
      participantMachine(machine, (to, data) => list(queues, key(id, to)).push(data)),
      { clock },
    )
    root.start()
    self.root = root
    if (joined.includes(id)) joined.splice(joined.indexOf(id), 1)
    joined.push(id)
    for (const other of joined) {
      if (other === id) continue
      // The newcomer offers to those already there; they wait for its offer.
      root.send({ type: 'mesh.add', peerId: other, input: inputFor(self, other, true) })
      const them = participant(other)
      if (othersSpawn) them.root?.send({ type: 'mesh.add', peerId: id, input: inputFor(them, id, false) })
    }
  }

  /** Forgets everything in flight or delivered between `id` and the others (their actors are new). */
  function forgetPairsOf(id: string) {
    for (const other of ids) {
      for (const k of [key(id, other), key(other, id)]) {
        queues.delete(k)
        delivered.delete(k)
      }
    }
  }

  for (const id of ids) arrive(id, { othersSpawn: true })

  const actor = (self: string, remote: string): PeerRef | undefined => participants.get(self)?.root?.getSnapshot().context.peers[remote]

  const toPeer = (self: string, remote: string, event: PeerEvent) => actor(self, remote)?.send(event)

  const pairs = () => ids.flatMap((from) => ids.filter((to) => to !== from).map((to) => [from, to] as const))

  const deliveredCount = () => [...delivered.values()].reduce((n, list) => n + list.length, 0)

  const inFlight = () => pairs().reduce((n, [from, to]) => n + (queues.get(key(from, to))?.length ?? 0), 0)

  /** A fingerprint of everything that moves, for backends that settle by polling. */
  const fingerprint = () =>
    pairs()
      .map(([from, to]) => {
        const s = actor(from, to)?.getSnapshot()
        const sent = (queues.get(key(from, to))?.length ?? 0) + (delivered.get(key(from, to))?.length ?? 0)
        return `${sent}:${s ? JSON.stringify(s.value) : '-'}:${s?.context.link.pc.signalingState}:${s?.context.link.pc.connectionState}`
      })
      .join('|')

  const mesh = {
    ids,
    clock,
    backend,
    present,
    actor,
    snapshot: (self: string, remote: string) => actor(self, remote)?.getSnapshot(),
    queue: (from: string, to: string) => list(queues, key(from, to)),
    delivered: (from: string, to: string) => list(delivered, key(from, to)),
    media: (id: string) => participant(id).media,
    inFlight,

    /** Hands `data` to `to`'s actor for `from`, as the room routes a signal (dropped if there is none). */
    hand(from: string, to: string, data: SignalData) {
      toPeer(to, from, signalEvent(data))
    },
    /** Delivers the message at `index` (default: the head) of the queue from `from` to `to`. */
    deliver(from: string, to: string, index = 0): SignalData | undefined {
      const queue = list(queues, key(from, to))
      if (queue.length === 0) return undefined
      const [data] = queue.splice(index % queue.length, 1)
      list(delivered, key(from, to)).push(data)
      mesh.hand(from, to, data)
      return data
    },
    /** Delivers everything in flight, each queue in order, each message a task of its own. */
    async flush() {
      for (const [from, to] of pairs()) {
        while (list(queues, key(from, to)).length > 0) {
          mesh.deliver(from, to)
          await microtasks()
        }
      }
    },
    /** Local media changes: every actor of the participant hears of it, as from the room. */
    changeMedia(id: string, change: keyof MediaFlags) {
      const p = participant(id)
      p.media = change === 'screen' ? { ...p.media, screen: !p.media.screen } : { ...p.media, [change]: true }
      for (const other of ids) if (other !== id) toPeer(id, other, { type: 'media.tracks', tracks: localTracks(p) })
    },
    restartIce(self: string, remote: string) {
      toPeer(self, remote, { type: 'ui.restartIce' })
    },
    /** The signaling socket came back: the room tells each peer actor. */
    signalingRestored(id: string) {
      for (const other of ids) if (other !== id) toPeer(id, other, { type: 'room.signalingRestored' })
    },
    /** A reload that resumes the same id: new actors and connections; the others keep theirs. */
    reload(id: string) {
      const self = participant(id)
      if (!self.root) return
      self.root.stop()
      arrive(id, { othersSpawn: false })
    },
    /** Leaves the room: the others stop their actors for it, and what was in flight is gone. */
    leave(id: string) {
      const self = participant(id)
      if (!self.root) return
      self.root.stop()
      self.root = null
      joined.splice(joined.indexOf(id), 1)
      for (const other of joined) participant(other).root?.send({ type: 'mesh.remove', peerId: id })
      forgetPairsOf(id)
    },
    /** Comes back after `leave`, as a newcomer. */
    join(id: string) {
      if (present(id)) return
      arrive(id, { othersSpawn: true })
    },

    settle: () => backend.settle(fingerprint),
    elapse: (ms: number) => backend.elapse(ms, clock),

    /** Everything that keeps the mesh from having converged; empty when it has. */
    problems(): string[] {
      const found: string[] = []
      for (const id of ids) if (!present(id)) found.push(`${id} is away`)
      for (const [self, remote] of pairs()) {
        if (!present(self) || !present(remote)) continue
        const s = actor(self, remote)?.getSnapshot()
        const r = actor(remote, self)?.getSnapshot()
        const at = `${self}→${remote}`
        if (!s || !r) {
          found.push(`${at}: no actor`)
          continue
        }
        found.push(...pairProblems(at, s, r, participant(self).media, participant(remote).media))
      }
      return found
    },

    /** Delivers everything and lets time pass until the mesh converges or `maxMs` of clock time is spent. */
    async quiesce({ quantumMs = 250, maxMs = 120_000, maxMessages = 1_500 } = {}): Promise<string[]> {
      for (const id of ids) mesh.join(id)
      const before = deliveredCount()
      let spent = 0
      for (;;) {
        await mesh.flush()
        await mesh.settle()
        if (deliveredCount() - before > maxMessages) {
          return [`signaling does not stop: over ${maxMessages} messages after the schedule`, ...mesh.problems()]
        }
        if (inFlight() > 0) continue
        const found = mesh.problems()
        if (found.length === 0 || spent >= maxMs) return found
        await mesh.elapse(quantumMs)
        spent += quantumMs
      }
    },

    stop() {
      for (const p of participants.values()) p.root?.stop()
      backend.dispose()
    },
  }
  return mesh
}

export type Mesh = Awaited<ReturnType<typeof createMesh>>

function negotiation(s: PeerSnapshot): string {
  const value = s.value as { active?: { negotiation?: string; connection?: string; channel?: string } }
  return `${value.active?.negotiation}/${value.active?.connection}/${value.active?.channel}`
}

/** The convergence property for one side of a pair. */
function pairProblems(at: string, s: PeerSnapshot, r: PeerSnapshot, own: MediaFlags, theirs: MediaFlags): string[] {
  const found: string[] = []
  const c = s.context
  if (s.status !== 'active') found.push(`${at}: actor ${s.status}`)
  if (!s.matches({ active: { negotiation: 'stable' } }) || c.link.pc.signalingState !== 'stable') {
    found.push(`${at}: not stable (${negotiation(s)}, pc ${c.link.pc.signalingState})`)
  }
  if (!s.hasTag('connected')) found.push(`${at}: not connected (${negotiation(s)}, pc ${c.link.pc.connectionState})`)
  if (!s.matches({ active: { channel: 'open' } }) || c.link.channel.readyState !== 'open') {
    found.push(`${at}: data channel ${c.link.channel.readyState}`)
  }
  if (c.remoteSession !== r.context.signaling.session || r.context.remoteSession !== c.signaling.session) {
    found.push(`${at}: not paired (hears ${c.remoteSession}, remote is ${r.context.signaling.session})`)
  }
  const received = c.link.remoteTracks
  if (received.audio !== theirs.audio || received.video !== theirs.video || received.screen !== theirs.screen) {
    found.push(`${at}: receives ${JSON.stringify(received)}, remote sends ${JSON.stringify(theirs)}`)
  }
  for (const kind of ['audio', 'video', 'screen'] as const) {
    if ((c.link.senders[kind] !== null) !== own[kind]) found.push(`${at}: ${kind} sender ${c.link.senders[kind] ? 'present' : 'missing'}`)
  }
  if (c.errors.length > 0)
    found.push(`${at}: errors ${JSON.stringify(c.errors.map(({ where, name, message }) => ({ where, name, message })))}`)
  if (c.ignoredOffers > 0 && c.polite) found.push(`${at}: the polite side ignored ${c.ignoredOffers} offer(s)`)
  if (c.polite !== isPolite(s.context.selfId, s.context.peerId)) found.push(`${at}: politeness differs from ids`)
  return found
}
