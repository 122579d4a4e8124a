import type * as Party from 'partykit/server'
import {
  displayName,
  CloseCode,
  encode,
  isValidRoomName,
  MAX_FRAME_BYTES,
  parseClientMessage,
  PROTOCOL_VERSION,
  type ErrorCode,
  type PeerInfo,
  type Presence,
  type ServerMessage,
  type SignalData,
} from '../protocol/messages'
import { verifyToken } from './auth'
import { ConfigError, parseConfig, type RoomConfig } from './config'
import { createLogger, type Logger } from '../lib/log'
import { fullBucket, take, type Bucket } from '../lib/tokenBucket'
import { iceServersFor } from './turn'

/** A participant of the room, kept in room storage so hibernation keeps it. */
type Member = {
  id: string
  secretHash: string
  presence: Presence
  /** The display name is fixed by the join token when auth is on. */
  lockedName: string | null
  /**
   * Server-made key of the live connection, or null while away within the
   * grace period. Never the PartyKit connection id: clients choose that
   * (`_pk`), so routing on it would let one socket receive another's frames.
   */
  connectionKey: string | null
  awaySince: number | null
}

/** A member's socket state; lives in the connection's hibernation-safe attachment. */
type MemberState = { peerId: string; key: string }
/**
 * A member socket's rate limit: its token bucket and its recent refusals.
 * Kept in memory, by connection key, rather than in the socket's attachment
 * (which every frame would rewrite): the room hibernates only after 10 s
 * without a frame, by which time the bucket is full again and the abuse
 * window over, which is what a fresh entry says.
 */
type RateState = { bucket: Bucket; drops: number; dropsSince: number }
/** A socket refused at connect (a full room), waiting for the client to close it. */
type RefusedState = { refused: true }
type ConnState = MemberState | RefusedState

const memberState = (connection: Party.Connection<ConnState>): MemberState | null =>
  connection.state && !('refused' in connection.state) ? connection.state : null
const isRefused = (connection: Party.Connection<ConnState>) => connection.state !== null && 'refused' in connection.state

/** Set by `onBeforeConnect` after checking a token; stripped from client requests. */
const NAME_HEADER = 'x-meshcall-token-name'
const ROSTER_KEY = 'roster'
const pendingKey = (peerId: string) => `pending:${peerId}`
/** Signals held for a peer that is away within its grace period. */
const MAX_PENDING = 256
/** More refused frames than this inside ABUSE_WINDOW_MS closes the connection. */
const ABUSE_DROPS = 100
const ABUSE_WINDOW_MS = 10_000
/**
 * How long a refused socket has to close itself after its error frame
 * before the server closes it (see `refuseFull`).
 */
const REFUSED_CLOSE_MS = 1_000

/**
 * The meshcall room server: assigns identity, keeps presence, and relays
 * signaling between the peers of one room. One instance (a Durable Object
 * in production) serves one room. The wire protocol is `protocol/messages.ts`.
 */
export default class RoomServer implements Party.Server {
  /**
   * Hibernation is on. workerd then ends the TCP connection of a socket the
   * server closes only once that socket has sent a frame: one that never
   * spoke stays open 10 s (until the room hibernates), one that did closes
   * in 7 ms. A refused socket never speaks, so the client closes it
   * (`refuseFull`).
   */
  readonly options: Party.ServerOptions = { hibernate: true }

  readonly config: RoomConfig
  readonly log: Logger
  /** Mirror of the `roster` storage key, reloaded by `onStart` after every wake. */
  roster: Record<string, Member> = {}
  /** Each member socket's rate limit, by connection key (see RateState). */
  readonly rates = new Map<string, RateState>()
  /**
   * Member sockets by connection key, so a relay does not read every
   * socket's attachment to find its target. Emptied by hibernation (a new
   * instance), then filled again by `socketOf`'s scan.
   */
  readonly sockets = new Map<string, Party.Connection<ConnState>>()

  constructor(readonly room: Party.Room) {
    // Configuration errors are refused in onBeforeConnect with a readable
    // message, so here the config is known to parse.
    this.config = parseConfig(room.env)
    this.log = createLogger({ level: this.config.logLevel }, { room: roomIdOf(room) })
  }

  static async onBeforeConnect(request: Party.Request, lobby: Party.Lobby) {
    const admitted = await admit(request, lobby)
    if (admitted instanceof Response) return admitted
    // Rebuilt rather than copied: the room trusts NAME_HEADER only from here.
    const headers = new Headers()
    request.headers.forEach((value, key) => {
      if (key.toLowerCase() !== NAME_HEADER) headers.set(key, value)
    })
    if (admitted.tokenName !== null) headers.set(NAME_HEADER, admitted.tokenName)
    return new Request(request.url, { method: request.method, headers })
  }

  static async onBeforeRequest(request: Party.Request, lobby: Party.Lobby) {
    const admitted = await admit(request, lobby)
    return admitted instanceof Response ? admitted : request
  }

  async onStart() {
    warnWithoutRelay(this.config, this.log)
    this.roster = (await this.room.storage.get<Record<string, Member>>(ROSTER_KEY)) ?? {}
    // After a restart of the server process, members whose socket is gone
    // start their grace period now, so a reconnect with the secret keeps them.
    const connections = [...this.room.getConnections<ConnState>()]
    // A refused socket whose timer was lost with the previous instance.
    for (const connection of connections) if (isRefused(connection)) this.closeRefused(connection)
    const live = new Set(connections.map((c) => memberState(c)?.key))
    const now = Date.now()
    let changed = false
    for (const member of Object.values(this.roster)) {
      if (member.connectionKey !== null && !live.has(member.connectionKey)) {
        member.connectionKey = null
        member.awaySince = now
        changed = true
      }
    }
    if (changed) {
      await this.saveRoster()
      await this.scheduleExpiry()
    }
  }

  async onConnect(connection: Party.Connection<ConnState>, ctx: Party.ConnectionContext) {
    const url = new URL(ctx.request.url)
    const tokenName = ctx.request.headers.get(NAME_HEADER)
    const resumed = await this.findResumable(url.searchParams.get('resume'))

    if (!resumed && this.memberCount() >= this.config.maxPeers) {
      return this.refuseFull(connection)
    }

    const secret = resumed ? resumed.secret : randomToken(32)
    const member: Member = resumed
      ? resumed.member
      : {
          id: randomToken(9),
          secretHash: await sha256(secret),
          presence: {
            name: tokenName ?? displayName(url.searchParams.get('name')),
            mic: false,
            camera: false,
            screen: false,
          },
          lockedName: tokenName,
          connectionKey: null,
          awaySince: null,
        }
    const iceServers = await iceServersFor(member.id, this.config)

    // From here on nothing awaits before the roster is updated, so two
    // connections arriving together cannot both take the last place.
    if (!resumed && this.memberCount() >= this.config.maxPeers) {
      return this.refuseFull(connection)
    }
    const previous = this.socketOf(member)
    const key = randomToken(12)
    member.connectionKey = key
    member.awaySince = null
    this.roster[member.id] = member
    connection.setState({ peerId: member.id, key })
    this.sockets.set(key, connection)
    // The same identity came back on a new socket before the old one was
    // seen to close (a network switch): the newer connection wins.
    previous?.close(CloseCode.replaced, 'replaced by a newer connection')

    const log = this.log.child({ peerId: member.id })
    this.send(connection, {
      type: 'welcome',
      v: PROTOCOL_VERSION,
      id: member.id,
      secret,
      resumed: Boolean(resumed),
      peers: this.peersExcept(member.id),
      iceServers,
      maxPeers: this.config.maxPeers,
      limits: { rate: this.config.rate, burst: this.config.burst, maxFrameBytes: MAX_FRAME_BYTES },
    })
    if (resumed) {
      log.info('peer resumed')
      await this.flushPending(member.id, connection)
    } else {
      log.info('peer joined', { peers: this.memberCount() })
      this.broadcast({ type: 'peer-joined', peer: infoOf(member) }, member.id)
    }
    await this.saveRoster()
    await this.scheduleExpiry()
  }

  async onMessage(frame: string | ArrayBuffer | ArrayBufferView, connection: Party.Connection<ConnState>) {
    const state = memberState(connection)
    const member = state ? this.memberOf(state.peerId) : undefined
    if (!state || !member || member.connectionKey !== state.key) return

    if (!this.admitFrame(connection, state)) return

    const parsed = parseClientMessage(frame)
    if (!parsed.ok) {
      this.log.info('frame refused', { peerId: member.id, code: parsed.code, reason: parsed.summary })
      this.sendError(connection, parsed.code, parsed.reason)
      return
    }
    const message = parsed.message
    switch (message.type) {
      case 'signal':
        return this.relaySignal(member, connection, message.to, message.data)
      case 'presence': {
        member.presence = { ...message.state, name: member.lockedName ?? message.state.name, ...this.membersLinks(member, message.state) }
        this.broadcast({ type: 'presence', from: member.id, state: member.presence }, member.id)
        return this.saveRoster()
      }
      case 'ping':
        return this.send(connection, { type: 'pong' })
      case 'bye':
        this.log.info('peer left', { peerId: member.id, reason: 'bye' })
        await this.remove(member.id, 'bye')
        connection.close(CloseCode.left, 'bye')
        return
    }
  }

  async onClose(connection: Party.Connection<ConnState>) {
    if (isRefused(connection)) return this.closeRefused(connection)
    await this.leave(connection)
  }

  async onError(connection: Party.Connection<ConnState>) {
    if (isRefused(connection)) return this.closeRefused(connection)
    await this.leave(connection)
  }

  async onAlarm() {
    const now = Date.now()
    for (const member of Object.values(this.roster)) {
      if (member.awaySince !== null && now - member.awaySince >= this.config.graceMs) {
        this.log.info('peer left', { peerId: member.id, reason: 'timeout' })
        await this.remove(member.id, 'timeout')
      }
    }
    await this.scheduleExpiry()
  }

  async onRequest(request: Party.Request) {
    if (request.method !== 'GET') return new Response('method not allowed', { status: 405 })
    return Response.json({ v: PROTOCOL_VERSION, peers: this.memberCount(), maxPeers: this.config.maxPeers })
  }

  /**
   * Sends `room-full` and leaves the Close to the client, which closes at
   * once on that error (docs/protocol.md); the server answers its Close with
   * 4009. Closing first would keep the client waiting 10 s for the end of
   * the TCP connection, since the socket never spoke (see `options`). A
   * client that stays is closed after REFUSED_CLOSE_MS. Until then the
   * socket gets nothing else: broadcasts go to members only.
   */
  private refuseFull(connection: Party.Connection<ConnState>) {
    this.log.info('join refused: room full', { maxPeers: this.config.maxPeers })
    connection.setState({ refused: true })
    this.sendError(connection, 'room-full', `this room is full (${this.config.maxPeers} participants)`)
    setTimeout(() => this.closeRefused(connection), REFUSED_CLOSE_MS)
  }

  private closeRefused(connection: Party.Connection<ConnState>) {
    try {
      connection.close(CloseCode.roomFull, 'room full')
    } catch {
      // already closed
    }
  }

  /** A socket closed without `bye`: start the grace period, unseen by others. */
  private async leave(connection: Party.Connection<ConnState>) {
    // On an older compatibility date workerd does not answer a client's
    // Close frame by itself, so the client would hang in CLOSING until it
    // times out (cloudflare/partykit#389, #393). Complete the handshake.
    try {
      connection.close(1000)
    } catch {
      // the transport is already gone
    }
    const state = memberState(connection)
    if (state) {
      this.rates.delete(state.key)
      this.sockets.delete(state.key)
    }
    const member = state ? this.memberOf(state.peerId) : undefined
    // A socket replaced by a resume, or one that already said bye, is not the member's.
    if (!member || member.connectionKey !== state?.key) return
    if (this.config.graceMs === 0) {
      this.log.info('peer left', { peerId: member.id, reason: 'timeout' })
      await this.remove(member.id, 'timeout')
      return
    }
    member.connectionKey = null
    member.awaySince = Date.now()
    this.log.info('peer away', { peerId: member.id, graceMs: this.config.graceMs })
    await this.saveRoster()
    await this.scheduleExpiry()
  }

  private async remove(peerId: string, reason: 'bye' | 'timeout') {
    delete this.roster[peerId]
    this.broadcast({ type: 'peer-left', id: peerId, reason })
    await this.room.storage.delete(pendingKey(peerId))
    await this.saveRoster()
  }

  private async relaySignal(from: Member, connection: Party.Connection, to: string, data: SignalData) {
    const target = this.memberOf(to)
    if (!target || to === from.id) {
      this.sendError(connection, 'unknown-peer', `no peer ${JSON.stringify(to)} in this room`)
      return
    }
    const frame = encode({ type: 'signal', from: from.id, data })
    this.log.debug('signal relayed', { peerId: from.id, to, kind: data.kind, session: data.session })
    const socket = this.socketOf(target)
    if (socket) {
      socket.send(frame)
      return
    }
    // The target is away within its grace period: hold the frame for its
    // return. Its machine drops what has gone stale by then.
    const pending = (await this.room.storage.get<string[]>(pendingKey(to))) ?? []
    pending.push(frame)
    await this.room.storage.put(pendingKey(to), pending.slice(-MAX_PENDING))
  }

  private async flushPending(peerId: string, connection: Party.Connection) {
    const pending = await this.room.storage.get<string[]>(pendingKey(peerId))
    if (!pending) return
    for (const frame of pending) connection.send(frame)
    await this.room.storage.delete(pendingKey(peerId))
  }

  /** The per-connection token bucket; persistent abuse closes the socket. */
  private admitFrame(connection: Party.Connection<ConnState>, state: MemberState): boolean {
    const now = Date.now()
    const rate = this.rates.get(state.key) ?? { bucket: fullBucket(this.config.burst, now), drops: 0, dropsSince: 0 }
    const { allowed, bucket } = take(rate.bucket, this.config.rate, this.config.burst, now)
    if (allowed) {
      this.rates.set(state.key, { ...rate, bucket })
      return true
    }
    const fresh = now - rate.dropsSince > ABUSE_WINDOW_MS
    const drops = fresh ? 1 : rate.drops + 1
    this.rates.set(state.key, { bucket, drops, dropsSince: fresh ? now : rate.dropsSince })
    if (drops > ABUSE_DROPS) {
      this.log.warn('connection closed for rate abuse', { peerId: state.peerId, drops })
      connection.close(CloseCode.rateLimited, 'rate limit exceeded persistently')
    } else {
      this.sendError(connection, 'rate-limited', `more than ${this.config.rate} frames/s: frame dropped`)
    }
    return false
  }

  private async findResumable(resume: string | null): Promise<{ member: Member; secret: string } | null> {
    if (!resume) return null
    const dot = resume.indexOf('.')
    const member = dot > 0 ? this.memberOf(resume.slice(0, dot)) : undefined
    if (!member) return null
    const secret = resume.slice(dot + 1)
    const matches = timingSafeEqual(await sha256(secret), member.secretHash)
    if (!matches) this.log.warn('resume refused: wrong secret', { peerId: member.id })
    return matches ? { member, secret } : null
  }

  /** A presence's links, keeping only pairs with other members of the room (no links field if it had none). */
  private membersLinks(member: Member, state: Presence): Pick<Presence, 'links'> {
    if (!state.links) return {}
    const links = Object.fromEntries(Object.entries(state.links).filter(([id]) => id !== member.id && Object.hasOwn(this.roster, id)))
    return { links }
  }

  /**
   * The member with this id, for an id a client sent. The roster is a plain
   * object: `constructor` or `__proto__` would otherwise find
   * Object.prototype's members (the fuzzer found both: a signal to one was
   * held as if for an away peer, a resume of one crashed the join).
   */
  private memberOf(id: string): Member | undefined {
    return Object.hasOwn(this.roster, id) ? this.roster[id] : undefined
  }

  /** The member's live socket, found by the server-made key in its state. */
  private socketOf(member: Member): Party.Connection<ConnState> | undefined {
    const key = member.connectionKey
    if (key === null) return undefined
    const known = this.sockets.get(key)
    // 1: OPEN (workerd names it READY_STATE_OPEN).
    if (known && known.readyState === 1) return known
    this.sockets.delete(key)
    for (const connection of this.room.getConnections<ConnState>()) {
      if (memberState(connection)?.key === key) {
        this.sockets.set(key, connection)
        return connection
      }
    }
    return undefined
  }

  private memberCount() {
    return Object.keys(this.roster).length
  }

  private peersExcept(peerId: string): PeerInfo[] {
    return Object.values(this.roster)
      .filter((m) => m.id !== peerId)
      .map(infoOf)
  }

  private send(connection: Party.Connection, message: ServerMessage) {
    connection.send(encode(message))
  }

  private sendError(connection: Party.Connection, code: ErrorCode, message: string) {
    this.send(connection, { type: 'error', code, message })
  }

  /**
   * To the current socket of every member but `without` (a peer id). Never
   * to a refused or replaced socket, and never by connection id: clients
   * choose that (`_pk`).
   */
  private broadcast(message: ServerMessage, without?: string) {
    const frame = encode(message)
    for (const connection of this.room.getConnections<ConnState>()) {
      const state = memberState(connection)
      if (!state || state.peerId === without || this.memberOf(state.peerId)?.connectionKey !== state.key) continue
      connection.send(frame)
    }
  }

  private async saveRoster() {
    await this.room.storage.put(ROSTER_KEY, this.roster)
  }

  /** One alarm, at the earliest moment an away member's grace runs out. */
  private async scheduleExpiry() {
    const deadlines = Object.values(this.roster).flatMap((m) => (m.awaySince === null ? [] : [m.awaySince + this.config.graceMs]))
    if (deadlines.length === 0) {
      await this.room.storage.deleteAlarm()
      return
    }
    await this.room.storage.setAlarm(Math.min(...deadlines))
  }
}

RoomServer satisfies Party.Worker

/**
 * Checks what can be checked before the WebSocket upgrade: the room name, the
 * configuration, the protocol version and, when auth is on, the join token.
 */
async function admit(request: Party.Request, lobby: Party.Lobby): Promise<Response | { tokenName: string | null }> {
  if (!isValidRoomName(lobby.id)) {
    return new Response('room names are 1 to 64 characters of A-Z a-z 0-9 _ -', { status: 400 })
  }
  let config: RoomConfig
  try {
    config = parseConfig(lobby.env)
  } catch (error) {
    if (error instanceof ConfigError) return new Response(error.message, { status: 500 })
    throw error
  }
  const url = new URL(request.url)
  const version = url.searchParams.get('v')
  if (version !== null && version !== String(PROTOCOL_VERSION)) {
    return new Response(`unsupported protocol version ${version}; this server speaks ${PROTOCOL_VERSION}`, {
      status: 400,
    })
  }
  if (!config.authSecret) return { tokenName: null }
  const result = await verifyToken(config.authSecret, url.searchParams.get('token'), lobby.id)
  if (!result.ok) return new Response(result.reason, { status: 401 })
  return { tokenName: result.claims.name }
}

/**
 * A room server that hands out STUN but no TURN is a deployment reaching
 * across the Internet (local development has neither): say once, as the
 * room starts, that some pairs will never connect.
 */
function warnWithoutRelay(config: RoomConfig, log: Logger): void {
  const stun = config.iceUrls.some((url) => /^stuns?:/.test(url))
  const turn = config.iceUrls.some((url) => /^turns?:/.test(url))
  if (stun && !turn) {
    log.warn('no TURN server configured: participants behind symmetric NATs or firewalls that block UDP cannot connect', {
      fix: 'add turn: URLs to MESHCALL_ICE_URLS, with MESHCALL_TURN_SECRET',
    })
  }
}

function infoOf(member: Member): PeerInfo {
  return { id: member.id, presence: member.presence }
}

/** Alarms run without `room.id` (PartyKit's documented limit). */
function roomIdOf(room: Party.Room): string | undefined {
  try {
    return room.id
  } catch {
    return undefined
  }
}

function randomToken(bytes: number): string {
  const raw = crypto.getRandomValues(new Uint8Array(bytes))
  return btoa(String.fromCharCode(...raw))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '')
}

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text))
  return btoa(String.fromCharCode(...new Uint8Array(digest)))
}

function timingSafeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i)
  return diff === 0
}
