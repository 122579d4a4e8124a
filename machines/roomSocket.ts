/**
 * The wire layer: one partysocket to the room server, validating every frame
 * with the shared protocol schemas and turning them into `room.*` events.
 */
import PartySocket from 'partysocket'
import { fromCallback, fromPromise } from 'xstate'
import { fullBucket, take } from '../lib/tokenBucket'
import { CloseCode, encode, parseServerMessage, PROTOCOL_VERSION, type ClientMessage, type ServerMessage } from '../protocol/messages'

type Of<T extends ServerMessage['type']> = Extract<ServerMessage, { type: T }>

/** Server messages as events, named by origin. */
export type RoomServerEvent =
  | ({ type: 'room.welcome' } & Omit<Of<'welcome'>, 'type'>)
  | ({ type: 'room.peerJoined' } & Omit<Of<'peer-joined'>, 'type'>)
  | ({ type: 'room.peerLeft' } & Omit<Of<'peer-left'>, 'type'>)
  | ({ type: 'room.signal' } & Omit<Of<'signal'>, 'type'>)
  | ({ type: 'room.presence' } & Omit<Of<'presence'>, 'type'>)
  | ({ type: 'room.error' } & Omit<Of<'error'>, 'type'>)

export type SocketEvent =
  | RoomServerEvent
  | { type: 'socket.closed'; code: number; reason: string }
  | { type: 'socket.invalidFrame'; reason: string }
  | { type: 'socket.left' }

export type SocketCommand =
  | { type: 'socket.send'; message: ClientMessage }
  | { type: 'socket.bye' }
  /** Something else went dead (a peer's channel): ping now, and reconnect unless the server answers within `probeMs`. */
  | { type: 'socket.probe' }
  /** This device's network changed: the socket's path may be gone without a word, so reconnect now. */
  | { type: 'socket.reconnect' }

export type SocketInput = {
  host: string
  room: string
  name: string
  token?: string
  secure: boolean
  /** `<id>.<secret>` from an earlier welcome, to keep the same identity. */
  resume: string | null
  WebSocket?: unknown
  heartbeat: Heartbeat
}

/**
 * How often the socket pings the server, and how long it may go without
 * hearing anything before it is taken for dead. partysocket has no
 * heartbeat, and a path that drops packets without a FIN or RST (a NAT
 * that forgot the connection, a Wi-Fi that went away) leaves a TCP socket
 * open for minutes.
 */
export type Heartbeat = {
  intervalMs: number
  timeoutMs: number
  /**
   * How long a probe (`socket.probe`) waits for the server. A network change
   * kills the media paths and the signaling socket at once; when a peer's
   * channel goes silent the socket is asked now, rather than at its next
   * silent `timeoutMs`, so the ICE restart has signaling to go over.
   */
  probeMs: number
}

export const DEFAULT_HEARTBEAT: Heartbeat = { intervalMs: 4_000, timeoutMs: 12_000, probeMs: 2_000 }

const EVENT_TYPES = {
  welcome: 'room.welcome',
  'peer-joined': 'room.peerJoined',
  'peer-left': 'room.peerLeft',
  signal: 'room.signal',
  presence: 'room.presence',
  error: 'room.error',
} as const

function toEvent(message: Exclude<ServerMessage, { type: 'pong' }>): RoomServerEvent {
  const { type, ...rest } = message
  // Each message's fields go with its own event type; TypeScript does not
  // follow the union through the rename.
  return { ...rest, type: EVENT_TYPES[type] } as RoomServerEvent
}

/** Share of the server's announced bucket a client uses, leaving room for the unforeseen. */
const PACING_SHARE = 0.8

/**
 * Sends frames no faster than the server's token bucket allows. Joining a
 * room of five means offers and trickled candidates to five peers at once,
 * more than the bucket's burst; frames wait here instead of being refused.
 * What waits when the socket drops is discarded: it would be stale.
 */
function createPacer(send: (frame: string) => void) {
  let limits = { rate: 40, burst: 150 }
  let bucket = fullBucket(limits.burst, Date.now())
  const queue: string[] = []
  let timer: ReturnType<typeof setTimeout> | undefined
  const pump = () => {
    timer = undefined
    for (let frame = queue[0]; frame !== undefined; frame = queue[0]) {
      const { allowed, bucket: next } = take(bucket, limits.rate, limits.burst, Date.now())
      bucket = next
      if (!allowed) {
        timer = setTimeout(pump, Math.ceil(1000 / limits.rate))
        return
      }
      queue.shift()
      send(frame)
    }
  }
  return {
    setLimits(rate: number, burst: number) {
      limits = { rate: rate * PACING_SHARE, burst: Math.max(1, Math.floor(burst * PACING_SHARE)) }
      bucket = fullBucket(limits.burst, Date.now())
    },
    push(frame: string) {
      queue.push(frame)
      if (timer === undefined) pump()
    },
    clear() {
      queue.length = 0
      clearTimeout(timer)
      timer = undefined
    },
  }
}

export const roomSocket = fromCallback<SocketCommand, SocketInput>(({ input, receive, sendBack }) => {
  let resume = input.resume
  const socket = new PartySocket({
    host: input.host,
    room: input.room,
    party: 'main',
    protocol: input.secure ? 'wss' : 'ws',
    // Read on every reconnect, so a reconnect presents the latest secret.
    query: () => ({ v: String(PROTOCOL_VERSION), name: input.name, token: input.token, resume }),
    // partysocket would otherwise queue without bound and replay after a
    // reconnect; signaling sent into an outage is dropped instead, and the
    // peer machines recover by session numbers, answer timeouts and ICE restarts.
    maxEnqueuedMessages: 0,
    minReconnectionDelay: 200 + Math.random() * 300,
    maxReconnectionDelay: 5_000,
    reconnectionDelayGrowFactor: 1.5,
    connectionTimeout: 4_000,
    ...(input.WebSocket ? { WebSocket: input.WebSocket } : {}),
  })
  const pacer = createPacer((frame) => socket.send(frame))
  const send = (event: SocketEvent) => sendBack(event)
  let heardAt = Date.now()
  socket.addEventListener('open', () => (heardAt = Date.now()))
  socket.addEventListener('close', (event) => {
    pacer.clear()
    send({ type: 'socket.closed', code: event.code, reason: event.reason })
  })
  const heartbeat = setInterval(() => {
    if (socket.readyState !== PartySocket.OPEN) return
    if (Date.now() - heardAt > input.heartbeat.timeoutMs) {
      // Nothing heard, not even a pong: the path is gone. reconnect() closes
      // this socket at once (its close event is dispatched synchronously),
      // so the call knows, and partysocket keeps trying until the path is back.
      heardAt = Date.now()
      socket.reconnect(CloseCode.heartbeat, 'no heartbeat')
      return
    }
    pacer.push(encode({ type: 'ping' }))
  }, input.heartbeat.intervalMs)
  socket.addEventListener('message', (event) => {
    heardAt = Date.now()
    const parsed = parseServerMessage(event.data)
    if (!parsed.ok) {
      send({ type: 'socket.invalidFrame', reason: parsed.reason })
      return
    }
    if (parsed.message.type === 'pong') return
    if (parsed.message.type === 'welcome') {
      resume = `${parsed.message.id}.${parsed.message.secret}`
      pacer.setLimits(parsed.message.limits.rate, parsed.message.limits.burst)
    }
    send(toEvent(parsed.message))
  })
  let probe: ReturnType<typeof setTimeout> | undefined
  receive((command) => {
    if (command.type === 'socket.send') {
      pacer.push(encode(command.message))
      return
    }
    if (command.type === 'socket.probe') {
      if (probe !== undefined || socket.readyState !== PartySocket.OPEN) return
      const sentAt = Date.now()
      pacer.push(encode({ type: 'ping' }))
      probe = setTimeout(() => {
        probe = undefined
        if (heardAt >= sentAt || socket.readyState !== PartySocket.OPEN) return
        heardAt = Date.now()
        socket.reconnect(CloseCode.heartbeat, 'no answer to probe')
      }, input.heartbeat.probeMs)
      return
    }
    if (command.type === 'socket.reconnect') {
      clearTimeout(probe)
      probe = undefined
      heardAt = Date.now()
      socket.reconnect(CloseCode.networkChanged, 'network changed')
      return
    }
    pacer.clear()
    socket.send(encode({ type: 'bye' }))
    socket.close(1000, 'bye')
    send({ type: 'socket.left' })
  })
  return () => {
    clearInterval(heartbeat)
    clearTimeout(probe)
    pacer.clear()
    socket.close()
  }
})

/**
 * Why the socket does not connect: a browser cannot read the HTTP status of
 * a refused WebSocket upgrade, so ask the room's HTTP endpoint, which applies
 * the same checks (room name, token).
 */
export const probeRoom = fromPromise<{ status: number; body: string }, { host: string; room: string; token?: string; secure: boolean }>(
  async ({ input }) => {
    const response = await PartySocket.fetch(
      {
        host: input.host,
        room: input.room,
        party: 'main',
        protocol: input.secure ? 'https' : 'http',
        query: input.token ? { token: input.token } : {},
      },
      { signal: AbortSignal.timeout(4_000) },
    )
    return { status: response.status, body: await response.text() }
  },
)
