/**
 * Headless participants in Node: real libwebrtc with synthetic media. The
 * bot CLI fills rooms with them, and the integration tests drive them.
 */
import { createLogger, type LogLevel, type LogSink } from '../../lib/log'
import { PROTOCOL_VERSION } from '../../protocol/messages'
import { createCall, type Call } from '../createCall'
import { createRecorder, type Recorder, type SessionDump } from '../inspect/recorder'
import { pairSummary, toSnapshot, type StatsSnapshot } from '../inspect/stats'
import { watchStats } from '../inspect/watchStats'
import type { PeerFailure, PeerTag, PeerTimings, Recovery } from '../peer/types'
import { peerTag } from '../peerMachine'
import { pairSafetyCode } from '../safetyCode'
import type { Heartbeat } from '../roomSocket'
import { nodeWebRTC, type NodeWebRTC } from './wrtc'
import type { WebRTCImpl } from '../webrtc'

export type BotOptions = {
  host: string
  room: string
  count: number
  /** Name prefix: bots are called "Bot 1", "Bot 2"… (default "Bot"). */
  name?: string
  token?: string
  timings?: Partial<PeerTimings>
  logLevel?: LogLevel
  logSink?: LogSink
  media?: { audio: boolean; video: boolean }
  /** Record each bot's session for the inspector (see {@link dumpBot}). */
  record?: boolean
  /** Relay everything through TURN (`iceTransportPolicy: 'relay'`). */
  relay?: boolean
  /** The signaling socket's heartbeat (default the room machine's). */
  heartbeat?: Heartbeat
  /** How often a recorded bot samples getStats(), ms (default 1 s, as the inspector does). */
  statsMs?: number
  /** What the bot's camera shows (default colour bars; `noise` takes all the bitrate it is given). */
  scene?: 'bars' | 'noise'
  /**
   * Watch the host's addresses, and reconnect and restart ICE when they
   * change (default true). Off, the bot is like a browser that says nothing
   * of a network change: its silent channels and heartbeat find out.
   */
  watchNetwork?: boolean
}

export type Bot = { index: number; name: string; call: Call; joinedAt: number; recorder: Recorder | null; stopStats: () => void }

export type PeerReport = {
  id: string
  state: PeerTag
  framesReceived: number
  bytesReceived: number
  channelOpen: boolean
  iceRestarts: number
  /** The candidate pair in use: each side's candidate type, and the transport (null before one is selected). */
  candidatePair: CandidatePair | null
  /** Each ICE recovery of the pair: what broke it and how long until it was connected again. */
  recoveries: Recovery[]
  /** Why the pair cannot connect, once it is known (`no-relay`: direct blocked and no TURN server). */
  problem: PeerFailure | null
  /** The pair's safety code (`../safetyCode.ts`): the same on both sides unless someone sits in the middle; null before negotiation. */
  safetyCode: string | null
}

export type CandidateType = 'host' | 'srflx' | 'prflx' | 'relay'
export type CandidatePair = {
  local: CandidateType
  remote: CandidateType
  protocol: 'udp' | 'tcp'
  /** For a local relay candidate, how this side reaches the TURN server (`turn:…?transport=tcp` gives `tcp`). */
  relayProtocol: 'udp' | 'tcp' | 'tls' | null
}

export type BotReport = {
  name: string
  id: string | null
  room: string
  connectedWith: string[]
  peers: PeerReport[]
  iceRestarts: number
}

/** Starts `count` bots in one room, joining one after another in the order given. */
export function startBots(options: BotOptions): Bot[] {
  const bots: Bot[] = []
  for (let i = 1; i <= options.count; i++) bots.push(startBot(options, i))
  return bots
}

export function startBot(options: BotOptions, index: number): Bot {
  const name = `${options.name ?? 'Bot'} ${index}`
  const log = createLogger({ level: options.logLevel ?? 'warn', sink: options.logSink }, { bot: name })
  const recorder = options.record ? createRecorder() : null
  const call = createCall({
    inspect: recorder?.inspect,
    host: options.host,
    room: options.room,
    name,
    token: options.token,
    webrtc: withoutNetworkWatch(nodeWebRTC({ label: name, scene: options.scene }), options.watchNetwork === false),
    log,
    timings: options.timings,
    media: options.media,
    relayOnly: options.relay,
    heartbeat: options.heartbeat,
  })
  const stopStats = recorder ? watchStats(call, recorder, options.statsMs) : () => undefined
  return { index, name, call, joinedAt: Date.now(), recorder, stopStats }
}

/** The bot's session in the inspector's dump format, for `/inspect`. */
export function dumpBot(bot: Bot, config: Record<string, unknown>): SessionDump | null {
  return (
    bot.recorder?.dump({
      userAgent: `node ${process.version} (${process.platform}); @roamhq/wrtc`,
      app: `meshcall bot (${bot.name})`,
      protocol: PROTOCOL_VERSION,
      config,
    }) ?? null
  )
}

/** True when the bot is joined and connected, with an open data channel, to every participant it knows. */
export function isFullyConnected(bot: Bot, expectedPeers?: number): boolean {
  const snapshot = bot.call.getSnapshot()
  if (!snapshot.matches({ online: 'joined' })) return false
  const peers = Object.values(snapshot.context.peers)
  if (expectedPeers !== undefined && peers.length !== expectedPeers) return false
  return peers.every((ref) => {
    const peer = ref.getSnapshot()
    return peer.hasTag('connected') && peer.matches({ active: { channel: 'open' } })
  })
}

/** What a bot received from each peer, from the connection's own statistics. */
export async function report(bot: Bot): Promise<BotReport> {
  const snapshot = bot.call.getSnapshot()
  const peers: PeerReport[] = []
  for (const [id, ref] of Object.entries(snapshot.context.peers)) {
    const peer = ref.getSnapshot()
    let framesReceived = 0
    let bytesReceived = 0
    const stats = await peer.context.link.pc.getStats().catch(() => null)
    stats?.forEach((entry: Record<string, unknown>) => {
      if (entry.type !== 'inbound-rtp') return
      bytesReceived += Number(entry.bytesReceived ?? 0)
      if (entry.kind === 'video') framesReceived += Number(entry.framesDecoded ?? entry.framesReceived ?? 0)
    })
    peers.push({
      id,
      state: peerTag(peer),
      framesReceived,
      bytesReceived,
      channelOpen: peer.matches({ active: { channel: 'open' } }),
      iceRestarts: peer.context.totalRestarts,
      candidatePair: stats ? candidatePairOf(toSnapshot(stats, Date.now())) : null,
      recoveries: peer.context.recoveries,
      problem: peer.context.link.failure,
      safetyCode: await pairSafetyCode(snapshot.context.room, peer.context.link.pc),
    })
  }
  return {
    name: bot.name,
    id: snapshot.context.selfId,
    room: snapshot.context.room,
    connectedWith: peers.filter((p) => p.state === 'connected').map((p) => p.id),
    peers,
    iceRestarts: peers.reduce((sum, p) => sum + p.iceRestarts, 0),
  }
}

/** The pair's candidate types and transports, from its statistics (see {@link pairSummary}). */
function candidatePairOf(snapshot: StatsSnapshot): CandidatePair | null {
  const pair = pairSummary(snapshot)
  if (!pair || !isCandidateType(pair.localType) || !isCandidateType(pair.remoteType)) return null
  return {
    local: pair.localType,
    remote: pair.remoteType,
    protocol: pair.protocol === 'tcp' ? 'tcp' : 'udp',
    relayProtocol: isRelayProtocol(pair.relayProtocol) ? pair.relayProtocol : null,
  }
}

function isCandidateType(value: unknown): value is CandidateType {
  return value === 'host' || value === 'srflx' || value === 'prflx' || value === 'relay'
}

function isRelayProtocol(value: unknown): value is 'udp' | 'tcp' | 'tls' {
  return value === 'udp' || value === 'tcp' || value === 'tls'
}

/** Leaves the room and waits until the call has stopped. */
export async function stopBot(bot: Bot): Promise<void> {
  bot.stopStats()
  const snapshot = bot.call.getSnapshot()
  if (snapshot.status === 'active' && !snapshot.matches('left')) {
    const done = new Promise<void>((resolve) => {
      const subscription = bot.call.subscribe({
        next: (s) => {
          if (s.status !== 'active') {
            subscription.unsubscribe()
            resolve()
          }
        },
        complete: resolve,
        error: () => resolve(),
      })
    })
    bot.call.send({ type: 'ui.leave' })
    await Promise.race([done, new Promise((resolve) => setTimeout(resolve, 2_000))])
  }
  bot.call.stop()
}

/** The runtime, blind to network changes if asked. */
function withoutNetworkWatch(webrtc: NodeWebRTC, blind: boolean): WebRTCImpl {
  if (!blind) return webrtc
  const { watchNetwork: _unused, ...rest } = webrtc
  return rest
}
