/**
 * meshcall wire protocol, version 1.
 *
 * Every frame is a JSON text frame. Each message is defined once here as a
 * valibot schema; the TypeScript types are inferred from the schemas, and both
 * the room server (`party/`) and the client (`machines/`, `src/`) validate every
 * frame they receive with {@link parseClientMessage} / {@link parseServerMessage}.
 *
 * The prose version of this module is `docs/protocol.md`.
 */
import * as v from 'valibot'

export const PROTOCOL_VERSION = 1

/** Frames larger than this (in UTF-8 bytes) are dropped with `too-large`. */
export const MAX_FRAME_BYTES = 64 * 1024

/** Room names: 1 to 64 of `A-Z a-z 0-9 _ -`. */
export const ROOM_NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/

/** True when `name` may be used as a room name. */
export function isValidRoomName(name: string): boolean {
  return ROOM_NAME_PATTERN.test(name)
}

/** Display names are at most this long, after trimming. */
export const MAX_NAME_LENGTH = 64
/** The name of someone who gave none. */
export const DEFAULT_NAME = 'Guest'

/**
 * The display name that `raw` stands for: trimmed, cut to
 * {@link MAX_NAME_LENGTH}, and {@link DEFAULT_NAME} when nothing is left.
 * The one rule for the lobby, the room machine and the room server.
 *
 * @example
 * displayName('  Ada  ') // 'Ada'
 * displayName('   ') // 'Guest'
 */
export function displayName(raw: string | null | undefined): string {
  return raw?.trim().slice(0, MAX_NAME_LENGTH) || DEFAULT_NAME
}

/**
 * WebSocket close codes the room server uses (4000-4999 is the range RFC 6455
 * leaves to applications).
 */
export const CloseCode = {
  /** The peer said `bye`; the server closes its socket. */
  left: 4000,
  /** Persistent abuse of the rate limit. */
  rateLimited: 4008,
  /** The room already holds `maxPeers` participants. */
  roomFull: 4009,
  /** Another connection resumed this peer's identity with its secret. */
  replaced: 4010,
  /** Closed by the client: nothing came from the server, not even a pong, for too long. */
  heartbeat: 4011,
  /** Closed by the client: its network changed, and the socket's path may have gone with it. */
  networkChanged: 4012,
} as const
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode]

/** The `code` of an `error` frame. */
export const ErrorCode = v.picklist(['bad-message', 'too-large', 'unknown-peer', 'rate-limited', 'room-full'])
export type ErrorCode = v.InferOutput<typeof ErrorCode>

const PeerId = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{1,64}$/, 'not a peer id'))

/** How a participant's pair with another is doing, as that participant sees it; `relayed`: connected, through the TURN server. */
export const LinkState = v.picklist(['connecting', 'connected', 'relayed', 'reconnecting', 'failed'])
export type LinkState = v.InferOutput<typeof LinkState>
/** Why a pair cannot connect: no relay on a network that needs one, or ICE failed again and again. */
export const LinkReason = v.picklist(['no-relay', 'ice-failed'])
export const Link = v.object({ state: LinkState, reason: v.optional(LinkReason) })
export type Link = v.InferOutput<typeof Link>
/** At most this many pairs in a presence's `links` (a room holds fewer). */
export const MAX_LINKS = 32

/**
 * What a participant shows the others. The server fans it out as given,
 * keeping in `links` only the pairs with members of the room.
 */
export const Presence = v.object({
  name: v.pipe(v.string(), v.trim(), v.minLength(1), v.maxLength(MAX_NAME_LENGTH)),
  mic: v.boolean(),
  camera: v.boolean(),
  screen: v.boolean(),
  /**
   * Each of this participant's pairs, by the other's id: so everyone sees the
   * whole mesh, and a pair that fails while the rest works is not a secret.
   */
  links: v.optional(
    v.pipe(
      v.record(PeerId, Link),
      v.check((links) => Object.keys(links).length <= MAX_LINKS, `at most ${MAX_LINKS} links`),
    ),
  ),
})
export type Presence = v.InferOutput<typeof Presence>

export const PeerInfo = v.object({ id: PeerId, presence: Presence })
export type PeerInfo = v.InferOutput<typeof PeerInfo>

export const IceServer = v.object({
  urls: v.union([v.string(), v.array(v.string())]),
  username: v.optional(v.string()),
  credential: v.optional(v.string()),
})
export type IceServer = v.InferOutput<typeof IceServer>

/**
 * Negotiation session numbers. `session` is the sender's generation of its
 * RTCPeerConnection for this pair; `ack` is the receiver's generation the
 * sender last heard of (absent until it has heard one). A receiver drops a
 * message whose `ack` names a generation it no longer has: that is stale
 * signaling from before a rejoin or replayed after a socket reconnect.
 * `seq` numbers the messages of one session from 1: a receiver drops any
 * message not newer than the last it took from that session (a duplicate,
 * a replay, or one overtaken by a later message).
 */
const Session = {
  session: v.pipe(v.number(), v.integer(), v.minValue(0)),
  ack: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
  seq: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
}

/** The SDP of a description is bounded by the frame limit, not here. */
export const SessionDescription = v.object({
  type: v.picklist(['offer', 'answer', 'pranswer', 'rollback']),
  sdp: v.optional(v.string()),
})

/** `RTCIceCandidate.toJSON()`, which carries `usernameFragment`. */
export const IceCandidate = v.object({
  candidate: v.string(),
  sdpMid: v.optional(v.nullable(v.string())),
  sdpMLineIndex: v.optional(v.nullable(v.number())),
  usernameFragment: v.optional(v.nullable(v.string())),
})

/** The payload of a `signal`: what one peer's machine tells the other's. */
export const SignalData = v.variant('kind', [
  v.object({
    kind: v.literal('description'),
    description: SessionDescription,
    /**
     * The mid of the sender's screen-share transceiver, once it has one, so
     * the screen is not taken for the camera. (Not its msid stream: a
     * transceiver reused by addTrack keeps the old stream in libwebrtc's SDP.)
     */
    screenMid: v.optional(v.pipe(v.string(), v.maxLength(64))),
    /**
     * For an offer, its number on the sender's connection; for an answer, the
     * number of the offer it answers. An answer to any other offer is stale.
     */
    offer: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
    ...Session,
  }),
  v.object({ kind: v.literal('candidate'), candidate: IceCandidate, ...Session }),
  v.object({
    kind: v.literal('end-of-candidates'),
    usernameFragment: v.optional(v.nullable(v.string())),
    ...Session,
  }),
  /**
   * The polite side asks the impolite side to restart ICE, rather than
   * restarting itself (see `machines/peer/recovery.ts`). `ufrag` is the
   * impolite side's ICE username fragment as the polite side has it: a
   * request made before a restart that has since happened names an old one,
   * and is dropped.
   */
  v.object({ kind: v.literal('restart'), ufrag: v.pipe(v.string(), v.maxLength(256)), ...Session }),
])
export type SignalData = v.InferOutput<typeof SignalData>

// Client to server. Unknown keys (such as a spoofed `from`) are stripped by
// `v.object`, so the server never relays them.
export const ClientMessage = v.variant('type', [
  v.object({ type: v.literal('signal'), to: PeerId, data: SignalData }),
  v.object({ type: v.literal('presence'), state: Presence }),
  v.object({ type: v.literal('bye') }),
  /** A heartbeat: the server answers `pong`, so a client notices a connection that went silent. */
  v.object({ type: v.literal('ping') }),
])
export type ClientMessage = v.InferOutput<typeof ClientMessage>

// Server to client.
export const WelcomeMessage = v.object({
  type: v.literal('welcome'),
  v: v.literal(PROTOCOL_VERSION),
  id: PeerId,
  /** Present this (query `resume=<id>.<secret>`) on reconnect to keep `id`. */
  secret: v.string(),
  /** True when this connection resumed an identity within the grace period. */
  resumed: v.boolean(),
  peers: v.array(PeerInfo),
  iceServers: v.array(IceServer),
  maxPeers: v.pipe(v.number(), v.integer(), v.minValue(1)),
  /** The connection's token bucket, so a client can pace itself below it. */
  limits: v.object({
    rate: v.pipe(v.number(), v.minValue(1)),
    burst: v.pipe(v.number(), v.minValue(1)),
    maxFrameBytes: v.pipe(v.number(), v.integer(), v.minValue(1)),
  }),
})
export type WelcomeMessage = v.InferOutput<typeof WelcomeMessage>

export const ServerMessage = v.variant('type', [
  WelcomeMessage,
  v.object({ type: v.literal('peer-joined'), peer: PeerInfo }),
  v.object({
    type: v.literal('peer-left'),
    id: PeerId,
    reason: v.picklist(['bye', 'timeout']),
  }),
  v.object({ type: v.literal('signal'), from: PeerId, data: SignalData }),
  v.object({ type: v.literal('presence'), from: PeerId, state: Presence }),
  v.object({ type: v.literal('error'), code: ErrorCode, message: v.string() }),
  v.object({ type: v.literal('pong') }),
])
export type ServerMessage = v.InferOutput<typeof ServerMessage>

/**
 * A refused frame has a `reason` for its sender, which may quote the frame,
 * and a `summary` for logs, which never does (a frame can carry SDP, tokens
 * or secrets where a field was expected).
 */
export type ParseResult<T> = { ok: true; message: T } | { ok: false; code: 'bad-message' | 'too-large'; reason: string; summary: string }

const refused = (code: 'bad-message' | 'too-large', reason: string, summary = reason) => ({ ok: false as const, code, reason, summary })

/** UTF-8 length of a frame, computed only when it could exceed the limit. */
function frameBytes(frame: string): number {
  // A UTF-16 code unit encodes to at most 3 UTF-8 bytes.
  return frame.length * 3 <= MAX_FRAME_BYTES ? frame.length : new TextEncoder().encode(frame).length
}

function parseFrame<T>(schema: v.GenericSchema<unknown, T>, frame: string | ArrayBuffer | ArrayBufferView): ParseResult<T> {
  if (typeof frame !== 'string') {
    return frame.byteLength > MAX_FRAME_BYTES
      ? refused('too-large', `frame of ${frame.byteLength} bytes exceeds ${MAX_FRAME_BYTES}`)
      : refused('bad-message', 'binary frames are not part of the protocol')
  }
  const bytes = frameBytes(frame)
  if (bytes > MAX_FRAME_BYTES) {
    return refused('too-large', `frame of ${bytes} bytes exceeds ${MAX_FRAME_BYTES}`)
  }
  let json: unknown
  try {
    json = JSON.parse(frame)
  } catch {
    return refused('bad-message', 'frame is not JSON')
  }
  const result = v.safeParse(schema, json)
  if (!result.success) {
    const issue = result.issues[0]
    const path = v.getDotPath(issue)
    const at = path ? `${path}: ` : ''
    // valibot's message quotes what it received; `expected` comes from the schema.
    return refused(
      'bad-message',
      `${at}${issue.message}`,
      `${at}invalid ${issue.kind === 'schema' ? issue.type : issue.kind}, expected ${issue.expected ?? 'nothing else'}`,
    )
  }
  return { ok: true, message: result.output }
}

/** Validates a frame a client sent. Used by the room server. */
export function parseClientMessage(frame: string | ArrayBuffer | ArrayBufferView): ParseResult<ClientMessage> {
  return parseFrame(ClientMessage, frame)
}

/** Validates a frame the server sent. Used by clients. */
export function parseServerMessage(frame: string | ArrayBuffer | ArrayBufferView): ParseResult<ServerMessage> {
  return parseFrame(ServerMessage, frame)
}

/** Serialises a message after checking its type at compile time. */
export function encode(message: ClientMessage | ServerMessage): string {
  return JSON.stringify(message)
}
