import { createActor, enqueueActions, setup, type ActorRefFrom, type InspectionEvent } from 'xstate'
import { createLogger, type LogRecord } from '../../lib/log'
import type { LocalTracks } from '../../machines/localTracks'
import { signalEvent } from '../../machines/peer/session'
import type { PeerOutputEvent, PeerTimings } from '../../machines/peer/types'
import { peerMachine } from '../../machines/peerMachine'
import type { WebRTCImpl } from '../../machines/webrtc'
import type { SignalData } from '../../protocol/messages'

export type Side = 'a' | 'b'
export type InFlight = { from: Side; data: SignalData }

export type PairOptions = {
  ids?: { a: string; b: string }
  webrtc: { a: WebRTCImpl; b: WebRTCImpl }
  tracks?: { a?: LocalTracks; b?: LocalTracks }
  timings?: Partial<PeerTimings>
  /** Which sides make the first offer (default both: glare); a side that does not waits for the other's. */
  initiators?: { a?: boolean; b?: boolean }
  /** XState's inspection API, passed to the root actor. */
  inspect?: (event: InspectionEvent) => void
  /** The ICE servers both sides get (default none). */
  iceServers?: RTCIceServer[]
}

/**
 * Two peer actors wired through an in-memory signaling channel that the
 * test controls: each side's outgoing messages wait in a queue until the
 * test delivers them (in order, out of order, twice, or never).
 */
export function createPeerPair(options: PairOptions) {
  const ids = options.ids ?? { a: 'peer-a', b: 'peer-b' }
  const queues: Record<Side, SignalData[]> = { a: [], b: [] }
  /** Directions delivered as soon as sent; the others wait for the test. */
  const auto: Record<Side, boolean> = { a: false, b: false }
  /** Everything each side ever sent, in order. */
  const sent: Record<Side, SignalData[]> = { a: [], b: [] }
  const chat: Record<Side, PeerOutputEvent[]> = { a: [], b: [] }
  const logs: LogRecord[] = []
  const log = createLogger({ level: 'debug', sink: (r) => logs.push(r) })

  // The parent stands in for the room: it only collects what each peer sends.
  type PeerRef = ActorRefFrom<typeof peerMachine>
  const inputFor = (side: Side) => ({
    selfId: ids[side],
    peerId: ids[side === 'a' ? 'b' : 'a'],
    webrtc: options.webrtc[side],
    iceServers: options.iceServers ?? [],
    localTracks: options.tracks?.[side],
    timings: options.timings,
    initiator: options.initiators?.[side],
    log: log.child({ side }),
  })
  let generation = 0
  const parent = setup({
    types: {
      events: {} as PeerOutputEvent | { type: 'harness.restart'; side: Side },
      context: {} as { a: PeerRef; b: PeerRef },
    },
    actors: { peer: peerMachine },
  }).createMachine({
    context: ({ spawn }) => ({
      a: spawn('peer', { id: 'a', input: inputFor('a') }),
      b: spawn('peer', { id: 'b', input: inputFor('b') }),
    }),
    on: {
      // A page reload: the side's actor and connection go, a fresh one with the same id comes.
      'harness.restart': {
        actions: enqueueActions(({ context, event, enqueue }) => {
          enqueue.stopChild(context[event.side])
          enqueue.assign(({ spawn }) => ({
            [event.side]: spawn('peer', { id: `${event.side}${++generation}`, input: inputFor(event.side) }),
          }))
        }),
      },
      'peer.signal': {
        actions: ({ event }) => {
          const from: Side = event.peerId === ids.b ? 'a' : 'b'
          sent[from].push(event.data)
          queues[from].push(event.data)
          if (auto[from]) queueMicrotask(() => flush(from))
        },
      },
      'peer.message': {
        actions: ({ event }) => chat[event.peerId === ids.b ? 'a' : 'b'].push(event),
      },
    },
  })
  const root = createActor(parent, { inspect: options.inspect })
  root.start()
  const refs = {
    get a() {
      return root.getSnapshot().context.a
    },
    get b() {
      return root.getSnapshot().context.b
    },
  }
  const other = (side: Side): Side => (side === 'a' ? 'b' : 'a')
  const flush = (from: Side) => {
    while (queues[from].length > 0) {
      const data = queues[from].shift() as SignalData
      refs[other(from)].send(signalEvent(data))
    }
  }

  return {
    ids,
    refs,
    queues,
    sent,
    /** Delivers `from`'s messages as they are sent (true) or holds them (false). */
    setAuto(from: Side, on: boolean) {
      auto[from] = on
      if (on) flush(from)
    },
    chat,
    logs,
    /** Delivers the next message `from` sent (or the one at `index`), if any. */
    deliver(from: Side, index = 0): SignalData | undefined {
      const [data] = queues[from].splice(index, 1)
      if (data) refs[other(from)].send(signalEvent(data))
      return data
    },
    /** Delivers a message again, as a replay after a reconnect would. */
    redeliver(from: Side, data: SignalData) {
      refs[other(from)].send(signalEvent(data))
    },
    /** Replaces a side's actor with a fresh one of the same id, as a reload would. */
    restart(side: Side) {
      queues[side].length = 0
      root.send({ type: 'harness.restart', side })
    },
    stop() {
      root.stop()
    },
  }
}
