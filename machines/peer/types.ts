/**
 * The peer machine's types and its base `setup`: context, events, input,
 * tags and actors. The guards, actions and delays that act on them live in
 * one module per concern beside this one, and `../peerMachine.ts` names them
 * all in its `setup` and draws the statechart.
 */
import { setup } from 'xstate'
import type { Logger } from '../../lib/log'
import type { ChannelMessage } from '../../protocol/channel'
import type { Link as PairLink, SignalData } from '../../protocol/messages'
import type { VideoEncoding } from '../encoding'
import type { LocalTracks } from '../localTracks'
import {
  connectionEvents,
  connectionTasks,
  setLocalDescription,
  setRemoteDescription,
  type ConnectionEvent,
  type TaskResult,
} from '../peerConnectionActors'
import type { RemoteTracks, Senders } from '../peerMedia'
import type { DataChannelLike, MediaStreamLike, PeerConnectionLike, WebRTCImpl } from '../webrtc'

/** Timings of the peer machine; every one is a named delay, so tests can shorten them. */
export type PeerTimings = {
  /** How long `disconnected` may last before an ICE restart (default 3 s). */
  disconnectedMs: number
  /** How long to wait for the first connection before restarting ICE (default 15 s). */
  connectTimeoutMs: number
  /** ICE restarts before giving up in `failed` (default 5). */
  maxRestarts: number
  /** Wait after the n-th restart is `restartBackoffMs * 2^(n-1)`, capped at 30 s (default 2 s). */
  restartBackoffMs: number
  /** How long an offer may wait for its answer before it is sent again (default 10 s). */
  answerTimeoutMs: number
  /** How long a peer that did not start the pair waits for the first offer before making its own (default 1.5 s). */
  firstOfferWaitMs: number
  /** How often each side pings the other on the data channel (default 1 s). */
  heartbeatMs: number
  /**
   * How long the data channel may bring nothing before the pair counts as
   * disconnected (default 4 s): libwebrtc takes about 6 s, and sometimes more
   * than 10 s, to call a dead path `disconnected`.
   */
  silenceMs: number
}

export const DEFAULT_TIMINGS: PeerTimings = {
  disconnectedMs: 3_000,
  connectTimeoutMs: 15_000,
  maxRestarts: 5,
  restartBackoffMs: 2_000,
  answerTimeoutMs: 10_000,
  firstOfferWaitMs: 1_500,
  heartbeatMs: 1_000,
  silenceMs: 4_000,
}

export type PeerInput = {
  selfId: string
  peerId: string
  webrtc: WebRTCImpl
  iceServers: RTCIceServer[]
  /** Relay everything through TURN (`iceTransportPolicy: 'relay'`): the remote never learns this side's addresses. */
  relayOnly?: boolean
  localTracks?: LocalTracks
  /** Participants in the call, this one included. */
  meshSize?: number
  /** Receive the remote's camera video (default true; false in audio-only mode). */
  wantVideo?: boolean
  uplinkBps?: number
  timings?: Partial<PeerTimings>
  log: Logger
  /**
   * Whether this side makes the first offer. The newcomer does; the side that
   * was already in the room waits a moment for it, so a new pair does not
   * start with glare. Either way the rules of perfect negotiation hold.
   */
  initiator?: boolean
}

/** Signaling as the room delivers it to this peer (`SignalData` of the wire protocol). */
export type SignalEvent =
  | ({ type: 'signal.description' } & Omit<Extract<SignalData, { kind: 'description' }>, 'kind'>)
  | ({ type: 'signal.candidate' } & Omit<Extract<SignalData, { kind: 'candidate' }>, 'kind'>)
  | ({ type: 'signal.endOfCandidates' } & Omit<Extract<SignalData, { kind: 'end-of-candidates' }>, 'kind'>)
  | ({ type: 'signal.restart' } & Omit<Extract<SignalData, { kind: 'restart' }>, 'kind'>)

export const SIGNAL_EVENTS = ['signal.description', 'signal.candidate', 'signal.endOfCandidates', 'signal.restart'] as const

/** Signaling that passed the session checks, for the negotiation to act on. */
export type AcceptedEvent =
  | { type: 'remote.description'; description: RTCSessionDescriptionInit; screenMid?: string; offer?: number }
  | { type: 'remote.candidate'; candidate: RTCIceCandidateInit | null }
  /** The remote's connection changed to a newer one, which ours adopted. */
  | { type: 'remote.adopted' }
  /** The (polite) remote asks us to restart ICE; `ufrag` is our ICE username fragment as it has it. */
  | { type: 'remote.restart'; ufrag: string }

export type PeerEvent =
  | SignalEvent
  | AcceptedEvent
  | ConnectionEvent
  | TaskResult
  | { type: 'channel.send'; message: ChannelMessage }
  | { type: 'media.tracks'; tracks: LocalTracks }
  | { type: 'room.meshSize'; size: number }
  /** The uplink budget changed (the low-bandwidth setting). */
  | { type: 'room.uplink'; bps: number }
  | { type: 'room.signalingRestored' }
  /** This device's network changed, and the signaling socket is back on the new one. */
  | { type: 'room.networkChanged' }
  | { type: 'ui.restartIce' }
  /** Receive the remote's camera video or not: audio only, that person's video turned off, or the tile hidden. */
  | { type: 'ui.wantVideo'; want: boolean }
  /** Raised from the data channel: the remote does (not) want this side's camera video. */
  | { type: 'remote.wantsVideo'; want: boolean }
  | { type: 'ui.retry' }
  /** Raised by the `liveness` region: the data channel has brought nothing for `silenceMs`, or brings messages again. */
  | { type: 'link.silent' }
  | { type: 'link.heard' }
  /** Raised on entering `connected`: the liveness region watches the channel afresh. */
  | { type: 'link.watch' }

/** What a peer actor tells the room. */
export type PeerOutputEvent =
  | { type: 'peer.signal'; peerId: string; data: SignalData }
  | { type: 'peer.message'; peerId: string; message: ChannelMessage }
  /** The pair's data channel went silent: the path may be gone, and the signaling socket with it. */
  | { type: 'peer.silent'; peerId: string }
  /** How the pair is doing, for the room to share in its presence (sent when it may have changed). */
  | { type: 'peer.link'; peerId: string; link: PairLink }

/** The UI's vocabulary for a pair: what its tile shows. */
export type PeerTag = 'connecting' | 'connected' | 'reconnecting' | 'failed'

export type PeerError = { at: number; where: string; name: string; message: string }

/**
 * Why the pair left `connected`: its connection state, the data channel's
 * silence, someone here asked for an ICE restart (`restart`), the remote
 * did (`asked`), or this device's network changed (`network`).
 */
export type RecoveryCause = 'disconnected' | 'failed' | 'silent' | 'restart' | 'asked' | 'network'
/** One recovery of the pair: what broke it, and how long until it was connected again. */
export type Recovery = { cause: RecoveryCause; ms: number }
/**
 * Why a pair cannot connect. `no-relay`: the first attempt failed and the
 * call has no TURN server, so networks that block direct connections
 * (symmetric NATs, firewalls) cannot be crossed; the retries go on, but
 * the tile says so at once. `ice-failed`: every restart failed.
 */
export type PeerFailure = { reason: 'ice-failed' | 'no-relay'; message: string }

/**
 * One RTCPeerConnection and everything tied to it. Made by `createLink`
 * and only ever replaced whole: a new connection starts from nothing.
 */
export type Link = {
  pc: PeerConnectionLike
  channel: DataChannelLike
  senders: Senders
  remoteStream: MediaStreamLike
  remoteScreen: MediaStreamLike
  /** The mid of the remote's screen-share transceiver, as its last description said. */
  remoteScreenMid: string | null
  trackStreams: Record<string, string | null>
  remoteTracks: RemoteTracks
  /** webrtc-pc §10.7 `ignoreOffer`: the last remote offer was ignored (impolite side of a collision). */
  ignoreOffer: boolean
  /** negotiationneeded arrived while waiting for the remote's first offer. */
  negotiationDeferred: boolean
  /** Number of the remote offer being answered, echoed in the answer. */
  answering: number | undefined
  /**
   * Whether this connection has taken a remote description (applied, or
   * being applied). Until it has, it can adopt a newer remote connection
   * rather than start over.
   */
  tookDescription: boolean
  /** The answer this connection last sent, to send again if its offer comes again (its answer was lost). */
  lastAnswer: { offer: number; sdp: string } | null
  connectionState: RTCPeerConnectionState
  signalingState: RTCSignalingState
  restarts: number
  /** The local ICE ufrag when the last restart began; the restart is done once it changes. */
  restartFrom: string | null
  /** negotiationneeded came while a description was being applied: offer once stable. */
  negotiationPending: boolean
  /**
   * The ICE generation (local and remote ufrags of the current descriptions)
   * the `connection` region is waiting on while it recovers. A restart
   * negotiated by either side gives a new one, and a new generation's
   * checks get their full wait before the next restart.
   */
  generation: string | null
  failure: PeerFailure | null
}

/**
 * This side's session with the remote: its number and the numbering of the
 * messages in it. Made by `createSignaling` with a new session, and kept by
 * a connection that replaces another within the same session.
 */
export type Signaling = {
  /** This side's generation of its connection for the pair. */
  session: number
  /** Number of the last offer this session sent. */
  offerSeq: number
  /** Number of the last signaling message this session sent. */
  sentSeq: number
  /** Highest message number taken from the remote's current connection: anything not newer is stale. */
  remoteSeq: number
  /** Highest remote offer number accepted. */
  remoteOfferSeq: number
  /** Remote candidates waiting for a remote description to apply to. */
  pendingCandidates: (RTCIceCandidateInit | null)[]
}

export type DropReason = 'staleSession' | 'staleAck' | 'staleSeq' | 'staleOffer' | 'staleAnswer' | 'oldCandidate' | 'staleRestart'

export type PeerContext = {
  selfId: string
  peerId: string
  /** webrtc-pc perfect negotiation: the polite peer yields on offer collision. */
  polite: boolean
  webrtc: WebRTCImpl
  iceServers: RTCIceServer[]
  relayOnly: boolean
  timings: PeerTimings
  log: Logger
  link: Link
  signaling: Signaling
  /** The remote's generation, once heard. */
  remoteSession: number | null
  initiator: boolean
  /** Offers this side ignored as the impolite peer (model tests check who ignores). */
  ignoredOffers: number
  localTracks: LocalTracks
  /** ICE restarts over the actor's life, for the bot's summary. */
  totalRestarts: number
  /** Every recovery so far, oldest first (the last 20). */
  recoveries: Recovery[]
  /** The recovery under way: since when, and why. */
  recovering: { cause: RecoveryCause; since: number } | null
  meshSize: number
  uplinkBps: number
  /** The parameters the camera sender should use for this mesh size, and whether they took. */
  encoding: { camera: VideoEncoding; screen: VideoEncoding | null; applied: boolean; error: string | null }
  /** Round-trip time over the data channel, in ms: the heartbeat's, updated when it changes by 20 % (and 5 ms) or more. */
  channelRtt: number | null
  /** Whether this side wants the remote's camera video (told to the remote over the data channel). */
  wantVideo: boolean
  /** Whether the remote wants this side's camera video: when not, the camera copy for it is not encoded. */
  remoteWantsVideo: boolean
  errors: PeerError[]
  /** Signaling dropped as stale, by reason (for the inspector and tests). */
  dropped: Record<DropReason, number>
}

/**
 * The parts of `enqueueActions`' `enqueue` that helpers take. Updates are
 * functions of the context as the actions before them left it, since the
 * context holds sub-objects that several updates in one action may touch.
 */
export type Enqueue = {
  assign(update: (args: { context: PeerContext }) => Partial<PeerContext>): void
  raise(event: PeerEvent): void
  sendParent(event: PeerOutputEvent): void
}

/** The peer machine's types and actors; `peerMachine.ts` extends it with every guard, action and delay. */
export const peerSetup = setup({
  types: {
    context: {} as PeerContext,
    events: {} as PeerEvent,
    input: {} as PeerInput,
    tags: {} as PeerTag,
  },
  actors: { connectionEvents, connectionTasks, setLocalDescription, setRemoteDescription },
})

/** The id of the negotiation region, for `stateIn` guards. */
export const NEGOTIATION = '#peer.active.negotiation'
/** The id path of the liveness region, for `stateIn`. */
export const LIVENESS = '#peer.active.liveness'
