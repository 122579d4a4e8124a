import { assertEvent, assign, enqueueActions, fromCallback, sendTo, setup, type ActorRefFrom } from 'xstate'
import { createLogger, type Logger } from '../lib/log'
import { fullBucket, take, type Bucket } from '../lib/tokenBucket'
import { CHAT_BURST, CHAT_RATE, type ChannelMessage } from '../protocol/channel'
import { displayName, type PeerInfo, type Presence } from '../protocol/messages'
import { MEDIA_ACTOR_ID, peerActorId, ROOM_ACTOR_ID } from './actorIds'
import { NO_TRACKS, type LocalTracks } from './localTracks'
import { mediaMachine, type MediaOutputEvent } from './mediaMachine'
import { signalEvent } from './peer/session'
import type { PeerOutputEvent, PeerTimings } from './peer/types'
import { peerMachine } from './peerMachine'
import { DEFAULT_HEARTBEAT, probeRoom, roomSocket, type Heartbeat, type SocketEvent } from './roomSocket'
import { CAPTURE_CONSTRAINTS, UPLINK_BPS, type VideoQuality } from './videoQuality'
import type { WebRTCImpl } from './webrtc'

export type RoomInput = {
  /** `host:port` of the room server (the page's own origin in the app). */
  host: string
  room: string
  name: string
  /** Join token, when the server has auth on. */
  token?: string
  /** wss/https instead of ws/http (default: false). */
  secure?: boolean
  webrtc: WebRTCImpl
  log?: Logger
  /** An identity from an earlier session of this page, to resume it (after a reload). */
  resume?: { id: string; secret: string }
  /** Which local media to ask for (default both). */
  media?: { audio: boolean; video: boolean }
  timings?: Partial<PeerTimings>
  /** The low-bandwidth setting: a smaller camera and uplink (default `standard`). */
  videoQuality?: VideoQuality
  /** The uplink budget, overriding the quality's. */
  uplinkBps?: number
  /** Relay every pair through TURN, hiding this participant's addresses from the others (default false). */
  relayOnly?: boolean
  /** The signaling socket's heartbeat (default {@link DEFAULT_HEARTBEAT}). */
  heartbeat?: Heartbeat
  /** Failed attempts to reach the server before `failed` with `unreachable` (default 3). */
  connectAttempts?: number
}

/** The UI's vocabulary for the call as a whole. */
export type RoomTag = 'connecting' | 'connected' | 'reconnecting' | 'failed'

export type RoomFailure = { reason: 'room-full' | 'unauthorized' | 'unreachable'; message: string }

export type ChatEntry = { id: string; from: string; name: string; text: string; sentAt: number; self: boolean }

export type RoomContext = {
  host: string
  room: string
  name: string
  token: string | undefined
  secure: boolean
  webrtc: WebRTCImpl
  log: Logger
  timings: Partial<PeerTimings>
  videoQuality: VideoQuality
  uplinkBps: number
  relayOnly: boolean
  heartbeat: Heartbeat
  connectAttempts: number
  selfId: string | null
  secret: string | null
  iceServers: RTCIceServer[]
  maxPeers: number | null
  /** One peer actor per remote participant. */
  peers: Record<string, ActorRefFrom<typeof peerMachine>>
  /** What each remote participant shows: name, mic, camera, screen. */
  roster: Record<string, Presence>
  media: ActorRefFrom<typeof mediaMachine>
  localTracks: LocalTracks
  /** Local media has been acquired, refused or found missing. */
  mediaSettled: boolean
  presence: Presence
  chat: ChatEntry[]
  /** Each peer's chat bucket (CHAT_RATE): a peer that floods the chat is cut short. */
  chatBuckets: Record<string, Bucket>
  /** Chat messages dropped for being over a peer's bucket. */
  chatDropped: number
  attempts: number
  /**
   * This device's network changed since the socket was last welcomed: once
   * it is back (on the new network), every pair restarts ICE.
   */
  networkChanged: boolean
  failure: RoomFailure | null
  /** The last error frames from the server, for the UI and the inspector. */
  serverErrors: { code: string; message: string; at: number }[]
}

export type RoomEvent =
  | SocketEvent
  | PeerOutputEvent
  | MediaOutputEvent
  | { type: 'ui.join' }
  /** The display name, set in the lobby before joining. */
  | { type: 'ui.setName'; name: string }
  /** Hide this participant's addresses: relay every pair through TURN (set in the lobby, before the pairs exist). */
  | { type: 'ui.setRelayOnly'; relayOnly: boolean }
  /** The low-bandwidth setting, switched in the lobby or during the call. */
  | { type: 'ui.setVideoQuality'; quality: VideoQuality }
  | { type: 'ui.leave' }
  | { type: 'ui.retry' }
  | { type: 'ui.chat'; text: string }
  /** Raised when our presence changed other than by media: published when joined (and at every welcome anyway). */
  | { type: 'presence.changed' }
  /** From the runtime's network watch: an address came or went, or the browser is back online. */
  | { type: 'network.changed'; what: string }
  /** A peer already in the room when we joined (from `welcome`). */
  | { type: 'room.peerListed'; peer: PeerInfo }

const MAX_CHAT = 500

/** The runtime's network watch (`WebRTCImpl.watchNetwork`), where it has one. */
const networkWatch = fromCallback<{ type: string }, { webrtc: WebRTCImpl }>(({ input, sendBack }) =>
  input.webrtc.watchNetwork?.((what) => sendBack({ type: 'network.changed', what } satisfies RoomEvent)),
)

/**
 * A call: the connection to the room server, one peer actor per other
 * participant, and the local media.
 *
 * States: `lobby` (media previewing, not connected), `online.connecting`,
 * `online.joined`, `online.reconnecting` (with partysocket's backoff), `left`,
 * and `failed` with a reason: `room-full`, `unauthorized` or `unreachable`.
 * A signaling outage never touches the peers: media keeps flowing, and the
 * roster is reconciled when the socket is back.
 */
export const roomMachine = setup({
  types: {
    context: {} as RoomContext,
    events: {} as RoomEvent,
    input: {} as RoomInput,
    tags: {} as RoomTag,
  },
  delays: {
    // A slow permission prompt does not hold the call up for long.
    mediaWait: 10_000,
    // The server closes the socket on bye; if that is lost, leave anyway.
    byeTimeout: 1_000,
  },
  actors: { roomSocket, probeRoom, networkWatch, peer: peerMachine, media: mediaMachine },
  guards: {
    isRoomFull: ({ event }) => event.type === 'room.error' && event.code === 'room-full',
    isResume: ({ context, event }) => {
      assertEvent(event, 'room.welcome')
      return event.resumed && event.id === context.selfId
    },
    isUnauthorized: ({ event }) =>
      'output' in event &&
      typeof event.output === 'object' &&
      event.output !== null &&
      'status' in event.output &&
      event.output.status === 401,
    attemptsExhausted: ({ context }) => context.attempts + 1 >= context.connectAttempts,
    mediaSettled: ({ context }) => context.mediaSettled,
  },
  actions: {
    welcome: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'room.welcome')
      // A fresh identity: every old pair is gone for the others, so start over.
      for (const ref of Object.values(context.peers)) enqueue.stopChild(ref)
      enqueue.assign({
        selfId: event.id,
        secret: event.secret,
        iceServers: event.iceServers,
        maxPeers: event.maxPeers,
        peers: {},
        roster: {},
        // Pairs of the old identity are gone.
        presence: { ...context.presence, links: {} },
        attempts: 0,
        networkChanged: false,
        failure: null,
        log: context.log.child({ selfId: event.id }),
      })
      // A resume that failed (the grace period ran out, or the server
      // restarted without its storage) can list our own earlier identity,
      // still away: never connect to ourselves.
      const formerSelf = event.resumed ? null : context.selfId
      for (const peer of event.peers) {
        if (peer.id !== formerSelf) enqueue.raise({ type: 'room.peerListed', peer })
      }
    }),
    reconcile: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'room.welcome')
      const present = new Set(event.peers.map((p) => p.id))
      context.log.info('rejoined the room', { peers: event.peers.length })
      for (const [id, ref] of Object.entries(context.peers)) {
        if (!present.has(id)) enqueue.raise({ type: 'room.peerLeft', id, reason: 'timeout' })
        else {
          enqueue.sendTo(ref, { type: 'room.signalingRestored' })
          if (context.networkChanged) enqueue.sendTo(ref, { type: 'room.networkChanged' })
        }
      }
      for (const peer of event.peers) {
        if (!(peer.id in context.peers)) enqueue.raise({ type: 'room.peerListed', peer })
        else enqueue.assign({ roster: { ...context.roster, [peer.id]: peer.presence } })
      }
      enqueue.assign({ iceServers: event.iceServers, maxPeers: event.maxPeers, attempts: 0, networkChanged: false })
    }),
    /** The socket's path may be gone with the old network: reconnect it now, and restart every pair once it is back. */
    noteNetworkChange: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'network.changed')
      context.log.info('network changed: reconnecting, then restarting ICE with every peer', { what: event.what })
      enqueue.assign({ networkChanged: true })
      enqueue.sendTo('socket', { type: 'socket.reconnect' })
    }),
    addPeer: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, ['room.peerJoined', 'room.peerListed'])
      // We make the first offer to peers already in the room; a newcomer makes it to us.
      const initiator = event.type === 'room.peerListed'
      const { id, presence } = event.peer
      if (id in context.peers || id === context.selfId || context.selfId === null) return
      const selfId = context.selfId
      context.log.info('peer joined', { peerId: id })
      enqueue.assign({
        peers: ({ context: current, spawn }) => ({
          ...current.peers,
          [id]: spawn('peer', {
            id: peerActorId(id),
            input: {
              selfId,
              peerId: id,
              webrtc: current.webrtc,
              iceServers: current.iceServers,
              localTracks: current.localTracks,
              meshSize: Object.keys(current.peers).length + 2,
              uplinkBps: current.uplinkBps,
              relayOnly: current.relayOnly,
              timings: current.timings,
              log: current.log,
              initiator,
            },
          }),
        }),
        roster: ({ context: current }) => ({ ...current.roster, [id]: presence }),
      })
    }),
    removePeer: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'room.peerLeft')
      const ref = context.peers[event.id]
      if (!ref) return
      context.log.info('peer left', { peerId: event.id, reason: event.reason })
      // Stopping the actor closes its RTCPeerConnection.
      enqueue.stopChild(ref)
      const { [event.id]: _gone, ...peers } = context.peers
      const { [event.id]: _left, ...roster } = context.roster
      const { [event.id]: _bucket, ...chatBuckets } = context.chatBuckets
      const { [event.id]: _link, ...links } = context.presence.links ?? {}
      enqueue.assign({ peers, roster, chatBuckets, presence: { ...context.presence, links } })
    }),
    announceMeshSize: enqueueActions(({ context, enqueue }) => {
      const size = Object.keys(context.peers).length + 1
      for (const ref of Object.values(context.peers)) enqueue.sendTo(ref, { type: 'room.meshSize', size })
    }),
    routeSignal: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'room.signal')
      const ref = context.peers[event.from]
      if (!ref) {
        context.log.debug('signal from a peer not in the roster dropped', { from: event.from })
        return
      }
      enqueue.sendTo(ref, signalEvent(event.data))
    }),
    /** A pair's state changed: share it in our presence (the others draw the whole mesh from it). */
    updateLink: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'peer.link')
      const old = context.presence.links?.[event.peerId]
      if (old && old.state === event.link.state && old.reason === event.link.reason) return
      if (!(event.peerId in context.peers)) return
      enqueue.assign({ presence: { ...context.presence, links: { ...context.presence.links, [event.peerId]: event.link } } })
      enqueue.raise({ type: 'presence.changed' })
    }),
    updatePresence: assign(({ context, event }) => {
      assertEvent(event, 'room.presence')
      if (!(event.from in context.roster)) return {}
      return { roster: { ...context.roster, [event.from]: event.state } }
    }),
    sendSignal: sendTo('socket', ({ event }) => {
      assertEvent(event, 'peer.signal')
      return { type: 'socket.send' as const, message: { type: 'signal' as const, to: event.peerId, data: event.data } }
    }),
    publishPresence: sendTo('socket', ({ context }) => ({
      type: 'socket.send' as const,
      message: { type: 'presence' as const, state: context.presence },
    })),
    updateMedia: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'media.tracks')
      enqueue.assign({
        localTracks: event.tracks,
        mediaSettled: true,
        presence: { ...context.presence, mic: event.mic, camera: event.camera, screen: event.screen },
      })
      for (const ref of Object.values(context.peers)) enqueue.sendTo(ref, { type: 'media.tracks', tracks: event.tracks })
    }),
    sendChat: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'ui.chat')
      const text = event.text.trim()
      if (!text || context.selfId === null) return
      const message: ChannelMessage = { type: 'chat', id: randomId(), text: text.slice(0, 2000), sentAt: Date.now() }
      for (const ref of Object.values(context.peers)) enqueue.sendTo(ref, { type: 'channel.send', message })
      const entry: ChatEntry = {
        id: message.id,
        from: context.selfId,
        name: context.presence.name,
        text: message.text,
        sentAt: message.sentAt,
        self: true,
      }
      enqueue.assign({ chat: [...context.chat, entry].slice(-MAX_CHAT) })
    }),
    receiveMessage: assign(({ context, event }) => {
      assertEvent(event, 'peer.message')
      const { message, peerId } = event
      if (message.type !== 'chat' || context.chat.some((c) => c.id === message.id && c.from === peerId)) return {}
      const now = Date.now()
      const { allowed, bucket } = take(context.chatBuckets[peerId] ?? fullBucket(CHAT_BURST, now), CHAT_RATE, CHAT_BURST, now)
      const chatBuckets = { ...context.chatBuckets, [peerId]: bucket }
      if (!allowed) {
        // The first drop, then every CHAT_RATE-th: a flood logs a line per few messages, not one each.
        if (context.chatDropped % CHAT_RATE === 0)
          context.log.warn('chat over the rate limit dropped', { peerId, dropped: context.chatDropped + 1 })
        return { chatBuckets, chatDropped: context.chatDropped + 1 }
      }
      const name = context.roster[peerId]?.name ?? 'Someone'
      const entry: ChatEntry = { id: message.id, from: peerId, name, text: message.text, sentAt: message.sentAt, self: false }
      return { chat: [...context.chat, entry].slice(-MAX_CHAT), chatBuckets }
    }),
    recordServerError: assign(({ context, event }) => {
      assertEvent(event, 'room.error')
      // unknown-peer is expected when a peer leaves while signaling is in flight.
      const level = event.code === 'unknown-peer' ? 'debug' : 'warn'
      context.log[level]('error from the room server', { code: event.code, message: event.message })
      return { serverErrors: [...context.serverErrors, { code: event.code, message: event.message, at: Date.now() }].slice(-20) }
    }),
    failUnreachable: assign(({ context }) => ({
      failure: { reason: 'unreachable' as const, message: `The room server at ${context.host} cannot be reached.` },
    })),
    /** A new quality: its uplink budget for every pair (each resizes its encodings), and its capture constraints for the live camera and screen. */
    setVideoQuality: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'ui.setVideoQuality')
      if (event.quality === context.videoQuality) return
      const uplinkBps = UPLINK_BPS[event.quality]
      context.log.info('video quality', { quality: event.quality, uplinkBps })
      enqueue.assign({ videoQuality: event.quality, uplinkBps })
      for (const ref of Object.values(context.peers)) enqueue.sendTo(ref, { type: 'room.uplink', bps: uplinkBps })
      enqueue.sendTo(context.media, { type: 'media.setCapture', capture: CAPTURE_CONSTRAINTS[event.quality] })
    }),
    setRelayOnly: assign(({ event }) => {
      assertEvent(event, 'ui.setRelayOnly')
      return { relayOnly: event.relayOnly }
    }),
    setName: assign(({ context, event }) => {
      assertEvent(event, 'ui.setName')
      const name = displayName(event.name)
      return { name, presence: { ...context.presence, name } }
    }),
    failRoomFull: assign(({ event }) => {
      assertEvent(event, 'room.error')
      return { failure: { reason: 'room-full' as const, message: event.message } }
    }),
    failUnauthorized: assign((_, { body }: { body: string }) => ({
      failure: { reason: 'unauthorized' as const, message: body || 'A valid join token is needed.' },
    })),
    countAttempt: assign({ attempts: ({ context }) => context.attempts + 1 }),
    clearFailure: assign({ failure: null, attempts: 0 }),
    logInvalidFrame: ({ context, event }) => {
      assertEvent(event, 'socket.invalidFrame')
      context.log.error('invalid frame from the room server', { reason: event.reason })
    },
    logFailure: ({ context }) => context.log.warn('call failed', { ...context.failure }),
    sayBye: sendTo('socket', { type: 'socket.bye' }),
    releaseMedia: sendTo(({ context }) => context.media, { type: 'media.release' }),
    stopPeers: enqueueActions(({ context, enqueue }) => {
      for (const ref of Object.values(context.peers)) enqueue.stopChild(ref)
      enqueue.assign({ peers: {}, roster: {} })
    }),
  },
}).createMachine({
  id: ROOM_ACTOR_ID,
  context: ({ input, spawn }) => {
    const log = (input.log ?? createLogger()).child({ room: input.room })
    return {
      host: input.host,
      room: input.room,
      name: input.name,
      token: input.token,
      secure: input.secure ?? false,
      webrtc: input.webrtc,
      log,
      timings: input.timings ?? {},
      videoQuality: input.videoQuality ?? 'standard',
      uplinkBps: input.uplinkBps ?? UPLINK_BPS[input.videoQuality ?? 'standard'],
      relayOnly: input.relayOnly ?? false,
      heartbeat: input.heartbeat ?? DEFAULT_HEARTBEAT,
      connectAttempts: input.connectAttempts ?? 3,
      selfId: input.resume?.id ?? null,
      secret: input.resume?.secret ?? null,
      iceServers: [],
      maxPeers: null,
      peers: {},
      roster: {},
      media: spawn('media', {
        id: MEDIA_ACTOR_ID,
        input: { webrtc: input.webrtc, log, want: input.media, capture: CAPTURE_CONSTRAINTS[input.videoQuality ?? 'standard'] },
      }),
      localTracks: NO_TRACKS,
      mediaSettled: false,
      presence: { name: displayName(input.name), mic: false, camera: false, screen: false },
      chat: [],
      chatBuckets: {},
      chatDropped: 0,
      attempts: 0,
      networkChanged: false,
      failure: null,
      serverErrors: [],
    }
  },
  initial: 'lobby',
  on: {
    'media.tracks': { actions: 'updateMedia' },
    'ui.setVideoQuality': { actions: 'setVideoQuality' },
  },
  states: {
    lobby: {
      on: {
        'ui.join': [{ guard: 'mediaSettled', target: 'online' }, { target: 'joining' }],
        'ui.setName': { actions: 'setName' },
        'ui.setRelayOnly': { actions: 'setRelayOnly' },
      },
    },
    joining: {
      // Join once local media is settled, so the first offers carry the
      // tracks, and ICE gathers after capture permission (Chrome hides host
      // addresses behind mDNS names before it).
      tags: ['connecting'],
      on: { 'media.tracks': { target: 'online', actions: 'updateMedia' } },
      after: { mediaWait: 'online' },
    },
    online: {
      invoke: [
        {
          id: 'socket',
          src: 'roomSocket',
          input: ({ context }) => ({
            host: context.host,
            room: context.room,
            name: context.presence.name,
            token: context.token,
            secure: context.secure,
            resume: context.selfId && context.secret ? `${context.selfId}.${context.secret}` : null,
            WebSocket: context.webrtc.WebSocket,
            heartbeat: context.heartbeat,
          }),
        },
        { src: 'networkWatch', input: ({ context }) => ({ webrtc: context.webrtc }) },
      ],
      initial: 'connecting',
      on: {
        'room.error': [{ guard: 'isRoomFull', target: 'failed', actions: 'failRoomFull' }, { actions: 'recordServerError' }],
        'socket.invalidFrame': { actions: 'logInvalidFrame' },
        'peer.signal': { actions: 'sendSignal' },
        'peer.message': { actions: 'receiveMessage' },
        // A peer's path went silent: a network change takes the socket with it, so ask it now.
        'peer.silent': { actions: sendTo('socket', { type: 'socket.probe' }) },
        'peer.link': { actions: 'updateLink' },
        'network.changed': { actions: 'noteNetworkChange' },
        'ui.chat': { actions: 'sendChat' },
        'ui.leave': '.leaving',
      },
      states: {
        connecting: {
          tags: ['connecting'],
          on: {
            'room.welcome': { target: 'joined', actions: ['welcome', 'publishPresence'] },
            'socket.closed': 'probing',
          },
        },
        probing: {
          tags: ['connecting'],
          invoke: {
            src: 'probeRoom',
            input: ({ context }) => ({ host: context.host, room: context.room, token: context.token, secure: context.secure }),
            onDone: [
              {
                guard: 'isUnauthorized',
                target: '#room.failed',
                actions: { type: 'failUnauthorized', params: ({ event }) => ({ body: event.output.body }) },
              },
              { guard: 'attemptsExhausted', target: '#room.failed', actions: 'failUnreachable' },
              { target: 'connecting', actions: 'countAttempt' },
            ],
            onError: [
              { guard: 'attemptsExhausted', target: '#room.failed', actions: 'failUnreachable' },
              { target: 'connecting', actions: 'countAttempt' },
            ],
          },
          on: { 'room.welcome': { target: 'joined', actions: ['welcome', 'publishPresence'] } },
        },
        joined: {
          tags: ['connected'],
          on: {
            'socket.closed': 'reconnecting',
            'room.peerJoined': { actions: ['addPeer', 'announceMeshSize'] },
            'room.peerListed': { actions: ['addPeer', 'announceMeshSize'] },
            'room.peerLeft': { actions: ['removePeer', 'announceMeshSize'] },
            'room.signal': { actions: 'routeSignal' },
            'room.presence': { actions: 'updatePresence' },
            'presence.changed': { actions: 'publishPresence' },
            'media.tracks': { actions: ['updateMedia', 'publishPresence'] },
          },
        },
        reconnecting: {
          tags: ['reconnecting'],
          on: {
            'room.welcome': [
              { guard: 'isResume', target: 'joined', actions: ['reconcile', 'publishPresence'] },
              { target: 'joined', actions: ['welcome', 'publishPresence'] },
            ],
          },
        },
        leaving: {
          entry: 'sayBye',
          on: { 'socket.left': '#room.left' },
          after: { byeTimeout: '#room.left' },
        },
      },
    },
    failed: {
      tags: ['failed'],
      entry: 'logFailure',
      on: { 'ui.retry': { target: 'online', actions: 'clearFailure' } },
    },
    left: {
      type: 'final',
      entry: ['stopPeers', 'releaseMedia'],
    },
  },
})

function randomId(): string {
  return Math.random().toString(36).slice(2, 12)
}
