import { createActor, setup, type ActorRefFrom } from 'xstate'
import { createLogger, type LogRecord } from '../../lib/log'
import type { LocalTracks } from '../../machines/localTracks'
import { peerMachine, signalEvent, type PeerOutputEvent, type PeerTimings } from '../../machines/peerMachine'
import type { WebRTCImpl } from '../../machines/webrtc'
import type { SignalData } from '../../protocol/messages'

export type Side = 'a' | 'b'
export type InFlight = { from: Side; data: SignalData }

export type PairOptions = {
  ids?: { a: string; b: string }
  webrtc: { a: WebRTCImpl; b: WebRTCImpl }
  tracks?: { a?: LocalTracks; b?: LocalTracks }
  timings?: Partial<PeerTimings>
}

/**
 * Two peer actors wired through an in-memory signaling channel that the
 * test controls: each side's outgoing messages wait in a queue until the
 * test delivers them (in order, out of order, twice, or never).
 */
export function createPeerPair(options: PairOptions) {
  const ids = options.ids ?? { a: 'peer-a', b: 'peer-b' }
  const queues: Record<Side, SignalData[]> = { a: [], b: [] }
  const chat: Record<Side, PeerOutputEvent[]> = { a: [], b: [] }
  const logs: LogRecord[] = []
  const log = createLogger({ level: 'debug', sink: (r) => logs.push(r) })

  // The parent stands in for the room: it only collects what each peer sends.
  type PeerRef = ActorRefFrom<typeof peerMachine>
  const parent = setup({
    types: { events: {} as PeerOutputEvent, context: {} as { a: PeerRef; b: PeerRef } },
    actors: { peer: peerMachine },
  }).createMachine({
    context: ({ spawn }) => ({
      a: spawn('peer', {
        id: 'a',
        input: { selfId: ids.a, peerId: ids.b, webrtc: options.webrtc.a, iceServers: [], localTracks: options.tracks?.a, timings: options.timings, log: log.child({ side: 'a' }) },
      }),
      b: spawn('peer', {
        id: 'b',
        input: { selfId: ids.b, peerId: ids.a, webrtc: options.webrtc.b, iceServers: [], localTracks: options.tracks?.b, timings: options.timings, log: log.child({ side: 'b' }) },
      }),
    }),
    on: {
      'peer.signal': {
        actions: ({ event }) => queues[event.peerId === ids.b ? 'a' : 'b'].push(event.data),
      },
      'peer.message': {
        actions: ({ event }) => chat[event.peerId === ids.b ? 'a' : 'b'].push(event),
      },
    },
  })
  const root = createActor(parent)
  root.start()
  const refs = root.getSnapshot().context
  const other = (side: Side): Side => (side === 'a' ? 'b' : 'a')

  return {
    ids,
    refs,
    queues,
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
    /** Delivers everything in flight, both ways, until both queues stay empty. */
    async drain(settle: () => Promise<void>, rounds = 200) {
      for (let i = 0; i < rounds; i++) {
        await settle()
        if (queues.a.length === 0 && queues.b.length === 0) return
        while (queues.a.length) this.deliver('a')
        while (queues.b.length) this.deliver('b')
      }
      throw new Error('signaling did not settle')
    },
    stop() {
      root.stop()
    },
  }
}
