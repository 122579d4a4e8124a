import { and, assertEvent, assign, enqueueActions, not, or, raise, sendParent, sendTo, setup, stateIn } from 'xstate'
import type { Logger } from '../lib/log'
import { CHANNEL_ID, CHANNEL_LABEL, parseChannelMessage, type ChannelMessage } from '../protocol/channel'
import type { SignalData } from '../protocol/messages'
import { DEFAULT_UPLINK_BPS, videoEncodingFor, type VideoEncoding } from './encoding'
import { NO_TRACKS, type LocalTracks } from './localTracks'
import {
  connectionEvents,
  connectionTasks,
  rollback,
  setLocalDescription,
  setRemoteDescription,
  type ConnectionEvent,
  type TaskResult,
} from './peerConnectionActors'
import { addLocalTracks, iceUfrags, syncRemoteTracks, syncSenders, type RemoteTracks, type Senders } from './peerMedia'
import type { WebRTCImpl } from './webrtc'

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
  /** How long an offer may wait for its answer before it is rolled back and made again (default 10 s). */
  answerTimeoutMs: number
  /** How long a peer that did not start the pair waits for the first offer before making its own (default 1.5 s). */
  firstOfferWaitMs: number
}

export const DEFAULT_TIMINGS: PeerTimings = {
  disconnectedMs: 3_000,
  connectTimeoutMs: 15_000,
  maxRestarts: 5,
  restartBackoffMs: 2_000,
  answerTimeoutMs: 10_000,
  firstOfferWaitMs: 1_500,
}

export type PeerInput = {
  selfId: string
  peerId: string
  webrtc: WebRTCImpl
  iceServers: RTCIceServer[]
  localTracks?: LocalTracks
  /** Participants in the call, this one included. */
  meshSize?: number
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
type SignalEvent =
  | ({ type: 'signal.description' } & Omit<Extract<SignalData, { kind: 'description' }>, 'kind'>)
  | ({ type: 'signal.candidate' } & Omit<Extract<SignalData, { kind: 'candidate' }>, 'kind'>)
  | ({ type: 'signal.endOfCandidates' } & Omit<Extract<SignalData, { kind: 'end-of-candidates' }>, 'kind'>)

/** Signaling that passed the session checks, for the negotiation to act on. */
type AcceptedEvent =
  | { type: 'remote.description'; description: RTCSessionDescriptionInit; screen?: string; offer?: number }
  | { type: 'remote.candidate'; candidate: RTCIceCandidateInit | null }

export type PeerEvent =
  | SignalEvent
  | AcceptedEvent
  | ConnectionEvent
  | TaskResult
  | { type: 'channel.send'; message: ChannelMessage }
  | { type: 'media.tracks'; tracks: LocalTracks }
  | { type: 'room.meshSize'; size: number }
  | { type: 'room.signalingRestored' }
  | { type: 'ui.restartIce' }
  | { type: 'ui.retry' }

/** What a peer actor tells the room. */
export type PeerOutputEvent =
  | { type: 'peer.signal'; peerId: string; data: SignalData }
  | { type: 'peer.message'; peerId: string; message: ChannelMessage }

export type PeerError = { at: number; where: string; name: string; message: string }
export type PeerFailure = { reason: 'ice-failed'; message: string }

export type PeerContext = {
  selfId: string
  peerId: string
  /** webrtc-pc perfect negotiation: the polite peer yields on offer collision. */
  polite: boolean
  webrtc: WebRTCImpl
  iceServers: RTCIceServer[]
  timings: PeerTimings
  log: Logger
  pc: RTCPeerConnection
  channel: RTCDataChannel
  /** This side's generation of its connection for the pair. */
  session: number
  /** The remote's generation, once heard. */
  remoteSession: number | null
  ignoreOffer: boolean
  /** negotiationneeded arrived while waiting for the remote's first offer. */
  negotiationDeferred: boolean
  initiator: boolean
  /** Number of the last offer this connection sent. */
  offerSeq: number
  /** Number of the remote offer being answered, echoed in the answer. */
  answering: number | undefined
  /** Highest remote offer number accepted on this connection. */
  remoteOfferSeq: number
  /** Offers this side ignored as the impolite peer (model tests check who ignores). */
  ignoredOffers: number
  pendingCandidates: (RTCIceCandidateInit | null)[]
  localTracks: LocalTracks
  senders: Senders
  remoteStream: MediaStream
  remoteScreen: MediaStream
  remoteScreenId: string | null
  trackStreams: Record<string, string | null>
  remoteTracks: RemoteTracks
  connectionState: RTCPeerConnectionState
  signalingState: RTCSignalingState
  restarts: number
  /** The local ICE ufrag when the last restart began; the restart is done once it changes. */
  restartFrom: string | null
  /** ICE restarts over the actor's life, for the bot's summary. */
  totalRestarts: number
  failure: PeerFailure | null
  meshSize: number
  uplinkBps: number
  /** The parameters the camera sender should use for this mesh size, and whether they took. */
  encoding: { camera: VideoEncoding; screen: VideoEncoding | null; applied: boolean; error: string | null }
  /** Round-trip time over the data channel, in ms. */
  channelRtt: number | null
  errors: PeerError[]
  /** Signaling dropped as stale, by reason (for the inspector and tests). */
  dropped: { staleSession: number; staleAck: number; staleOffer: number; staleAnswer: number; oldCandidate: number }
}

/** The event a peer actor takes for signaling data from the wire. */
export function signalEvent(data: SignalData): SignalEvent {
  switch (data.kind) {
    case 'description': {
      const { kind: _, ...rest } = data
      return { type: 'signal.description', ...rest }
    }
    case 'candidate': {
      const { kind: _, ...rest } = data
      return { type: 'signal.candidate', ...rest }
    }
    case 'end-of-candidates': {
      const { kind: _, ...rest } = data
      return { type: 'signal.endOfCandidates', ...rest }
    }
  }
}

let lastSession = 0
/** Session numbers grow across reloads (they are clock-based), so a newer pc is recognisable. */
function nextSession(): number {
  lastSession = Math.max(Date.now(), lastSession + 1)
  return lastSession
}

/** The same on both sides: the peer with the smaller id is polite. */
export function isPolite(selfId: string, peerId: string): boolean {
  return selfId < peerId
}

function createConnection(input: {
  webrtc: WebRTCImpl
  iceServers: RTCIceServer[]
  localTracks: LocalTracks
}) {
  // max-bundle: one transport for audio, video and data, so candidates are
  // gathered once rather than per media section: a third of the signaling.
  const pc = new input.webrtc.RTCPeerConnection({ iceServers: input.iceServers, bundlePolicy: 'max-bundle' })
  // One negotiated channel per pair: both sides create it with the same id,
  // so neither waits for the other's datachannel event.
  const channel = pc.createDataChannel(CHANNEL_LABEL, { negotiated: true, id: CHANNEL_ID })
  return {
    pc,
    channel,
    session: nextSession(),
    senders: addLocalTracks(pc, input.localTracks),
    remoteStream: new input.webrtc.MediaStream(),
    remoteScreen: new input.webrtc.MediaStream(),
    remoteScreenId: null,
    trackStreams: {},
    remoteTracks: { audio: false, video: false, screen: false },
    pendingCandidates: [],
    ignoreOffer: false,
    negotiationDeferred: false,
    offerSeq: 0,
    answering: undefined,
    remoteOfferSeq: 0,
    connectionState: pc.connectionState,
    signalingState: pc.signalingState,
    restarts: 0,
    restartFrom: null,
    failure: null,
  } satisfies Partial<PeerContext>
}

/** The ICE ufrags of the remote descriptions applied (current and pending). */
function remoteUfrags(pc: RTCPeerConnection): string[] {
  return [...iceUfrags(pc.currentRemoteDescription?.sdp), ...iceUfrags(pc.pendingRemoteDescription?.sdp)]
}

/**
 * Sends on the data channel if it is open. The channel can close between the
 * machine's last `channel.close` and this send (the close event is queued),
 * and RTCDataChannel.send() throws then; a lost app message is not an error.
 */
function sendOnChannel(context: PeerContext, message: ChannelMessage): boolean {
  if (context.channel.readyState !== 'open') return false
  try {
    context.channel.send(JSON.stringify(message))
    return true
  } catch (error) {
    context.log.debug('data-channel send failed', { error: String(error) })
    return false
  }
}

/** Input of the setRemoteDescription actor: the description the transition accepted. */
function remoteDescriptionInput({ context, event }: { context: PeerContext; event: PeerEvent }) {
  assertEvent(event, 'remote.description')
  return { pc: context.pc, description: event.description }
}

const MAX_ERRORS = 20
const NEGOTIATION = '#peer.active.negotiation'

/**
 * One remote peer: an RTCPeerConnection negotiated with webrtc-pc's perfect
 * negotiation, kept connected with ICE restarts, with a data channel and
 * sender parameters sized to the mesh.
 *
 * The negotiation region makes the example's flags explicit states:
 * `makingOffer`, `settingRemoteAnswer` (isSettingRemoteAnswerPending),
 * and `ignoreOffer` in context. The connection region carries the tags the
 * UI reads: `connecting`, `connected`, `reconnecting`, `failed`.
 *
 * It is spawned by the room machine, sends `peer.signal` and `peer.message`
 * to its parent, and closes its connection when stopped.
 */
export const peerMachine = setup({
  types: {
    context: {} as PeerContext,
    events: {} as PeerEvent,
    input: {} as PeerInput,
  },
  actors: { connectionEvents, connectionTasks, setLocalDescription, setRemoteDescription, rollback },
  delays: {
    // The polite side waits half as long again before restarting, so the two
    // sides do not restart in lockstep and collide every time.
    disconnected: ({ context }) => context.timings.disconnectedMs * (context.polite ? 1.5 : 1),
    connectTimeout: ({ context }) => context.timings.connectTimeoutMs * (context.polite ? 1.5 : 1),
    answerTimeout: ({ context }) => context.timings.answerTimeoutMs,
    firstOfferWait: ({ context }) => context.timings.firstOfferWaitMs,
    restartBackoff: ({ context }) =>
      Math.min(30_000, context.timings.restartBackoffMs * 2 ** Math.max(0, context.restarts - 1)) * (context.polite ? 1.5 : 1),
  },
  guards: {
    /** Addressed to a connection of ours that no longer exists, or from an older one of theirs. */
    isStaleAck: ({ context, event }) => {
      assertEvent(event, ['signal.description', 'signal.candidate', 'signal.endOfCandidates'])
      return event.ack !== undefined && event.ack !== context.session
    },
    isStaleSession: ({ context, event }) => {
      assertEvent(event, ['signal.description', 'signal.candidate', 'signal.endOfCandidates'])
      return context.remoteSession !== null && event.session < context.remoteSession
    },
    /**
     * A newer connection of theirs that has heard nothing from ours: the remote
     * reloaded or rejoined with the same id, so ours must start over too. A
     * replacement always acks, so replacements never trigger each other.
     */
    isFromNewRemoteConnection: ({ context, event }) => {
      assertEvent(event, ['signal.description', 'signal.candidate', 'signal.endOfCandidates'])
      return event.ack === undefined && context.remoteSession !== null && event.session > context.remoteSession
    },
    isOffer: ({ event }) => event.type === 'remote.description' && event.description.type === 'offer',
    isAnswer: ({ event }) => event.type === 'remote.description' && event.description.type === 'answer',
    isImpolite: ({ context }) => !context.polite,
    signalingStable: ({ context }) => context.pc.signalingState === 'stable',
    // webrtc-pc §10.7 (perfect negotiation):
    //   readyForOffer = !makingOffer && (signalingState == "stable" || isSettingRemoteAnswerPending)
    //   offerCollision = description.type == "offer" && !readyForOffer
    //   ignoreOffer = !polite && offerCollision
    readyForOffer: and([
      not(stateIn(`${NEGOTIATION}.makingOffer`)),
      or(['signalingStable', stateIn(`${NEGOTIATION}.settingRemoteAnswer`)]),
    ]),
    offerCollision: and(['isOffer', not('readyForOffer')]),
    mustIgnoreOffer: and(['isImpolite', 'offerCollision']),
    /** Only the offer we are waiting on can be answered; any other answer is stale. */
    /** An offer replayed (after a reconnect) or overtaken: not newer than one already taken. */
    isStaleOffer: ({ context, event }) =>
      event.type === 'remote.description' &&
      event.description.type === 'offer' &&
      event.offer !== undefined &&
      event.offer <= context.remoteOfferSeq,
    isUnexpectedAnswer: and([
      'isAnswer',
      or([
        not(stateIn(`${NEGOTIATION}.awaitingAnswer`)),
        ({ context, event }) => event.type === 'remote.description' && event.offer !== undefined && event.offer !== context.offerSeq,
      ]),
    ]),
    madeOffer: ({ context }) => context.pc.signalingState === 'have-local-offer',
    /** No remote description yet, and none being applied: the candidate must wait. */
    mustQueueCandidate: and([
      ({ context }) => context.pc.remoteDescription === null,
      not(stateIn(`${NEGOTIATION}.settingRemoteOffer`)),
      not(stateIn(`${NEGOTIATION}.settingRemoteAnswer`)),
    ]),
    /** A candidate of an ICE generation before the current remote description (after a restart). */
    isFromOldIceGeneration: and([
      not(stateIn(`${NEGOTIATION}.settingRemoteOffer`)),
      not(stateIn(`${NEGOTIATION}.settingRemoteAnswer`)),
      ({ context, event }) => {
        assertEvent(event, 'remote.candidate')
        const ufrag = event.candidate?.usernameFragment
        if (!ufrag) return false
        const known = remoteUfrags(context.pc)
        return known.length > 0 && !known.includes(ufrag)
      },
    ]),
    isConnected: ({ event }) => event.type === 'pc.connectionState' && event.state === 'connected',
    isDisconnected: ({ event }) => event.type === 'pc.connectionState' && event.state === 'disconnected',
    isFailed: ({ event }) => event.type === 'pc.connectionState' && event.state === 'failed',
    negotiationDeferred: ({ context }) => context.negotiationDeferred,
    isInitiator: ({ context }) => context.initiator,
    restartsExhausted: ({ context }) => context.restarts >= context.timings.maxRestarts,
    /**
     * A restart on a live connection never leaves "connected", so no state
     * change announces its end: it is done when new local credentials are
     * applied and the connection is up.
     */
    restartCompleted: ({ context }) => {
      const ufrag = iceUfrags(context.pc.currentLocalDescription?.sdp)[0]
      return (
        context.pc.connectionState === 'connected' &&
        context.pc.signalingState === 'stable' &&
        ufrag !== undefined &&
        ufrag !== context.restartFrom
      )
    },
    channelOpen: ({ context }) => context.channel.readyState === 'open',
  },
  actions: {
    dropStale: enqueueActions(({ context, event, enqueue }, reason: 'staleAck' | 'staleSession') => {
      assertEvent(event, ['signal.description', 'signal.candidate', 'signal.endOfCandidates'])
      context.log.debug('stale signaling dropped', { reason, kind: event.type, session: event.session, ack: event.ack })
      enqueue.assign({ dropped: { ...context.dropped, [reason]: context.dropped[reason] + 1 } })
    }),
    replaceConnection: assign(({ context, event }) => {
      assertEvent(event, ['signal.description', 'signal.candidate', 'signal.endOfCandidates'])
      context.log.info('remote has a new connection: starting over', {
        remoteSession: event.session,
        previous: context.remoteSession,
      })
      // The old connection is closed by its connectionEvents actor as the state exits.
      return { ...createConnection(context), remoteSession: event.session }
    }),
    resend: raise(({ event }) => {
      assertEvent(event, ['signal.description', 'signal.candidate', 'signal.endOfCandidates'])
      return event
    }),
    acceptSignal: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, ['signal.description', 'signal.candidate', 'signal.endOfCandidates'])
      // A newer remote connection that acknowledges ours (it was made in
      // answer to ours) is adopted, so our messages ack it from now on.
      if (context.remoteSession === null || event.session > context.remoteSession) {
        enqueue.assign({ remoteSession: event.session })
      }
      if (event.type === 'signal.description') {
        enqueue.raise({ type: 'remote.description', description: event.description, screen: event.screen, offer: event.offer })
      } else if (event.type === 'signal.candidate') {
        enqueue.raise({ type: 'remote.candidate', candidate: event.candidate })
      } else {
        enqueue.raise({ type: 'remote.candidate', candidate: null })
      }
    }),
    ignoreOffer: assign(({ context }) => {
      context.log.debug('offer ignored (impolite side of a collision)')
      return { ignoreOffer: true, ignoredOffers: context.ignoredOffers + 1 }
    }),
    dropStaleAnswer: assign(({ context }) => {
      context.log.debug('stale answer dropped', { signalingState: context.pc.signalingState })
      return { dropped: { ...context.dropped, staleAnswer: context.dropped.staleAnswer + 1 } }
    }),
    dropStaleOffer: assign(({ context, event }) => {
      assertEvent(event, 'remote.description')
      context.log.debug('stale offer dropped', { offer: event.offer, newest: context.remoteOfferSeq })
      return { dropped: { ...context.dropped, staleOffer: context.dropped.staleOffer + 1 } }
    }),
    acceptDescription: assign(({ event }) => {
      assertEvent(event, 'remote.description')
      return {
        ignoreOffer: false,
        ...(event.description.type === 'offer' ? { answering: event.offer, remoteOfferSeq: event.offer ?? 0 } : {}),
        ...(event.screen !== undefined ? { remoteScreenId: event.screen } : {}),
      }
    }),
    sendDescription: enqueueActions(({ context, enqueue }) => {
      const local = context.pc.localDescription
      const type = local?.type ?? 'offer'
      const offer = type === 'offer' ? context.offerSeq + 1 : context.answering
      if (type === 'offer') enqueue.assign({ offerSeq: offer })
      const screen = context.localTracks.screen ? context.localTracks.screenStream?.id : undefined
      context.log.debug('description sent', { type, offer, session: context.session })
      enqueue.sendParent({
        type: 'peer.signal',
        peerId: context.peerId,
        data: {
          kind: 'description',
          description: { type, sdp: local?.sdp },
          ...(screen ? { screen } : {}),
          ...(offer !== undefined ? { offer } : {}),
          session: context.session,
          ...(context.remoteSession !== null ? { ack: context.remoteSession } : {}),
        },
      } satisfies PeerOutputEvent)
    }),
    sendCandidate: sendParent(({ context, event }) => {
      assertEvent(event, 'pc.iceCandidate')
      const ack = context.remoteSession !== null ? { ack: context.remoteSession } : {}
      const data: SignalData = event.candidate
        ? {
            kind: 'candidate',
            candidate: {
              candidate: event.candidate.candidate ?? '',
              sdpMid: event.candidate.sdpMid,
              sdpMLineIndex: event.candidate.sdpMLineIndex,
              usernameFragment: event.candidate.usernameFragment,
            },
            session: context.session,
            ...ack,
          }
        : { kind: 'end-of-candidates', session: context.session, ...ack }
      return { type: 'peer.signal', peerId: context.peerId, data } satisfies PeerOutputEvent
    }),
    queueCandidate: assign(({ context, event }) => {
      assertEvent(event, 'remote.candidate')
      return { pendingCandidates: [...context.pendingCandidates, event.candidate] }
    }),
    addCandidate: sendTo('tasks', ({ context, event }) => {
      assertEvent(event, 'remote.candidate')
      return { type: 'task.addCandidate' as const, candidate: event.candidate, ignoringOffer: context.ignoreOffer }
    }),
    dropOldCandidate: assign(({ context }) => ({
      dropped: { ...context.dropped, oldCandidate: context.dropped.oldCandidate + 1 },
    })),
    flushCandidates: enqueueActions(({ context, enqueue }) => {
      // Queued candidates may belong to an offer that was ignored or rolled
      // back (whose ICE credentials no longer exist): keep only those of the
      // description now applied.
      const known = remoteUfrags(context.pc)
      let old = 0
      for (const candidate of context.pendingCandidates) {
        const ufrag = candidate?.usernameFragment
        if (ufrag && known.length > 0 && !known.includes(ufrag)) {
          old++
          continue
        }
        enqueue.sendTo('tasks', { type: 'task.addCandidate', candidate, ignoringOffer: context.ignoreOffer })
      }
      enqueue.assign({
        pendingCandidates: [],
        dropped: { ...context.dropped, oldCandidate: context.dropped.oldCandidate + old },
      })
    }),
    recordError: assign(({ context, event }, where: string) => {
      const error = 'error' in event ? event.error : event
      const named = typeof error === 'object' && error !== null && 'name' in error && 'message' in error
      const entry: PeerError = {
        at: Date.now(),
        where,
        name: named ? String(error.name) : 'Error',
        message: named ? String(error.message) : String(error),
      }
      context.log.warn('negotiation step failed', { where, name: entry.name, message: entry.message })
      return { errors: [...context.errors, entry].slice(-MAX_ERRORS) }
    }),
    recordTaskFailure: assign(({ context, event }) => {
      assertEvent(event, 'task.failed')
      if (event.task === 'task.addCandidate' && event.name === 'OperationError') {
        // A candidate of a description since replaced (rolled back, ignored,
        // or before an ICE restart): dropping it is the right outcome.
        context.log.debug('stale candidate dropped', { message: event.message })
        return { dropped: { ...context.dropped, oldCandidate: context.dropped.oldCandidate + 1 } }
      }
      context.log.warn('connection task failed', { task: event.task, name: event.name, message: event.message })
      if (event.task === 'task.encode') {
        return { encoding: { ...context.encoding, applied: false, error: `${event.name}: ${event.message}` } }
      }
      const entry: PeerError = { at: Date.now(), where: event.task, name: event.name, message: event.message }
      return { errors: [...context.errors, entry].slice(-MAX_ERRORS) }
    }),
    recordEncoded: assign(({ context }) => ({ encoding: { ...context.encoding, applied: true, error: null } })),
    recordConnectionState: assign(({ event }) => {
      assertEvent(event, 'pc.connectionState')
      return { connectionState: event.state }
    }),
    recordSignalingState: assign(({ event }) => {
      assertEvent(event, 'pc.signalingState')
      return { signalingState: event.state }
    }),
    restartIce: enqueueActions(({ context, enqueue }) => {
      context.log.info('restarting ICE', { attempt: context.restarts + 1, connectionState: context.pc.connectionState })
      // Restart, never recreate: browsers cap RTCPeerConnections per page
      // (Chromium at 500), so a recreate loop would exhaust them.
      context.pc.restartIce()
      enqueue.assign({
        restarts: context.restarts + 1,
        totalRestarts: context.totalRestarts + 1,
        restartFrom: iceUfrags(context.pc.currentLocalDescription?.sdp)[0] ?? null,
      })
    }),
    resetRestarts: assign({ restarts: 0, failure: null }),
    recordFailure: assign(({ context }) => {
      const message = `no connection after ${context.restarts} ICE restarts`
      context.log.warn('peer failed', { reason: 'ice-failed', restarts: context.restarts })
      return { failure: { reason: 'ice-failed' as const, message } }
    }),
    receiveTrack: assign(({ context, event }) => {
      assertEvent(event, 'pc.track')
      const trackStreams = { ...context.trackStreams, [event.track.id]: event.streamId }
      const streams = { main: context.remoteStream, screen: context.remoteScreen }
      return { trackStreams, remoteTracks: syncRemoteTracks(context.pc, streams, trackStreams, context.remoteScreenId) }
    }),
    syncRemoteTracks: assign(({ context }) => ({
      remoteTracks: syncRemoteTracks(
        context.pc,
        { main: context.remoteStream, screen: context.remoteScreen },
        context.trackStreams,
        context.remoteScreenId,
      ),
    })),
    updateLocalTracks: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'media.tracks')
      const { senders, replacements } = syncSenders(context.pc, context.senders, event.tracks)
      for (const { sender, track } of replacements) enqueue.sendTo('tasks', { type: 'task.replaceTrack', sender, track })
      enqueue.assign({ senders, localTracks: event.tracks })
    }),
    updateMeshSize: assign(({ event }) => {
      assertEvent(event, 'room.meshSize')
      return { meshSize: event.size }
    }),
    applyEncoding: enqueueActions(({ context, enqueue }) => {
      const target = videoEncodingFor(context.meshSize, context.uplinkBps, context.senders.screen !== null)
      enqueue.assign({ encoding: { ...context.encoding, ...target } })
      if (context.senders.video) enqueue.sendTo('tasks', { type: 'task.encode', sender: context.senders.video, encoding: target.camera })
      if (context.senders.screen && target.screen) {
        enqueue.sendTo('tasks', { type: 'task.encode', sender: context.senders.screen, encoding: target.screen })
      }
    }),
    sendOnChannel: ({ context, event }) => {
      assertEvent(event, 'channel.send')
      sendOnChannel(context, event.message)
    },
    receiveOnChannel: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'channel.message')
      const message = parseChannelMessage(event.data)
      if (!message) {
        context.log.warn('invalid data-channel message dropped')
        return
      }
      if (message.type === 'ping') {
        sendOnChannel(context, { type: 'pong', t: message.t })
      } else if (message.type === 'pong') {
        enqueue.assign({ channelRtt: Math.max(0, Date.now() - message.t) })
      } else {
        enqueue.sendParent({ type: 'peer.message', peerId: context.peerId, message } satisfies PeerOutputEvent)
      }
    }),
    ping: ({ context }) => {
      sendOnChannel(context, { type: 'ping', t: Date.now() })
    },
  },
}).createMachine({
  id: 'peer',
  context: ({ input }) => {
    const timings = { ...DEFAULT_TIMINGS, ...input.timings }
    const localTracks = input.localTracks ?? NO_TRACKS
    const meshSize = input.meshSize ?? 2
    const uplinkBps = input.uplinkBps ?? DEFAULT_UPLINK_BPS
    const polite = isPolite(input.selfId, input.peerId)
    return {
      selfId: input.selfId,
      peerId: input.peerId,
      polite,
      initiator: input.initiator ?? true,
      webrtc: input.webrtc,
      iceServers: input.iceServers,
      timings,
      log: input.log.child({ peerId: input.peerId, polite }),
      localTracks,
      ...createConnection({ webrtc: input.webrtc, iceServers: input.iceServers, localTracks }),
      remoteSession: null,
      ignoredOffers: 0,
      totalRestarts: 0,
      meshSize,
      uplinkBps,
      encoding: { ...videoEncodingFor(meshSize, uplinkBps), applied: false, error: null },
      channelRtt: null,
      errors: [],
      dropped: { staleSession: 0, staleAck: 0, staleOffer: 0, staleAnswer: 0, oldCandidate: 0 },
    }
  },
  initial: 'active',
  states: {
    active: {
      type: 'parallel',
      invoke: [
        { id: 'connection', src: 'connectionEvents', input: ({ context }) => ({ pc: context.pc, channel: context.channel }) },
        { id: 'tasks', src: 'connectionTasks', input: ({ context }) => ({ pc: context.pc }) },
      ],
      on: {
        'signal.*': [
          { guard: 'isStaleAck', actions: { type: 'dropStale', params: 'staleAck' } },
          { guard: 'isStaleSession', actions: { type: 'dropStale', params: 'staleSession' } },
          { guard: 'isFromNewRemoteConnection', target: 'active', reenter: true, actions: ['replaceConnection', 'resend'] },
          { actions: 'acceptSignal' },
        ],
        'remote.candidate': [
          { guard: 'mustQueueCandidate', actions: 'queueCandidate' },
          { guard: 'isFromOldIceGeneration', actions: 'dropOldCandidate' },
          { actions: 'addCandidate' },
        ],
        'pc.iceCandidate': { actions: 'sendCandidate' },
        'pc.signalingState': { actions: 'recordSignalingState' },
        'pc.track': { actions: 'receiveTrack' },
        'task.failed': { actions: 'recordTaskFailure' },
        'task.ignored': { actions: ({ context, event }) => context.log.debug('candidate of an ignored offer', { message: event.message }) },
        'task.encoded': { actions: 'recordEncoded' },
        'media.tracks': { actions: ['updateLocalTracks', 'applyEncoding'] },
        'room.meshSize': { actions: ['updateMeshSize', 'applyEncoding'] },
      },
      states: {
        negotiation: {
          initial: 'starting',
          on: {
            'remote.description': [
              { guard: 'isUnexpectedAnswer', actions: 'dropStaleAnswer' },
              { guard: 'isStaleOffer', actions: 'dropStaleOffer' },
              { guard: 'mustIgnoreOffer', actions: 'ignoreOffer' },
              { guard: 'isOffer', target: '.settingRemoteOffer', actions: 'acceptDescription' },
              { target: '.settingRemoteAnswer', actions: 'acceptDescription' },
            ],
          },
          states: {
            starting: {
              always: [{ guard: 'isInitiator', target: 'stable' }, { target: 'waitingForOffer' }],
            },
            waitingForOffer: {
              on: { 'pc.negotiationNeeded': { actions: assign({ negotiationDeferred: true }) } },
              after: {
                firstOfferWait: [{ guard: 'negotiationDeferred', target: 'makingOffer' }, { target: 'stable' }],
              },
            },
            stable: {
              entry: ['syncRemoteTracks', 'applyEncoding'],
              on: { 'pc.negotiationNeeded': 'makingOffer' },
            },
            makingOffer: {
              invoke: {
                src: 'setLocalDescription',
                input: ({ context }) => ({ pc: context.pc }),
                onDone: [{ guard: 'madeOffer', target: 'awaitingAnswer', actions: 'sendDescription' }, { target: 'stable' }],
                onError: { target: 'stable', actions: { type: 'recordError', params: 'setLocalDescription(offer)' } },
              },
            },
            awaitingAnswer: {
              on: { 'room.signalingRestored': 'rollingBack' },
              // An answer lost with the signaling socket would leave the offer
              // pending forever: roll it back, and negotiationneeded fires again.
              after: { answerTimeout: 'rollingBack' },
            },
            rollingBack: {
              invoke: {
                src: 'rollback',
                input: ({ context }) => ({ pc: context.pc }),
                onDone: 'stable',
                onError: { target: 'stable', actions: { type: 'recordError', params: 'rollback' } },
              },
            },
            settingRemoteOffer: {
              invoke: {
                src: 'setRemoteDescription',
                input: remoteDescriptionInput,
                onDone: { target: 'answering', actions: 'flushCandidates' },
                onError: { target: 'stable', actions: { type: 'recordError', params: 'setRemoteDescription(offer)' } },
              },
            },
            answering: {
              invoke: {
                src: 'setLocalDescription',
                input: ({ context }) => ({ pc: context.pc }),
                onDone: { target: 'stable', actions: 'sendDescription' },
                onError: { target: 'stable', actions: { type: 'recordError', params: 'setLocalDescription(answer)' } },
              },
            },
            settingRemoteAnswer: {
              invoke: {
                src: 'setRemoteDescription',
                input: remoteDescriptionInput,
                onDone: { target: 'stable', actions: 'flushCandidates' },
                onError: { target: 'stable', actions: { type: 'recordError', params: 'setRemoteDescription(answer)' } },
              },
            },
          },
        },
        connection: {
          initial: 'connecting',
          states: {
            connecting: {
              tags: ['connecting'],
              after: { connectTimeout: 'restarting' },
              on: {
                'pc.connectionState': [
                  { guard: 'isConnected', target: 'connected', actions: 'recordConnectionState' },
                  { guard: 'isFailed', target: 'restarting', actions: 'recordConnectionState' },
                  { actions: 'recordConnectionState' },
                ],
                'ui.restartIce': 'restarting',
              },
            },
            connected: {
              tags: ['connected'],
              entry: 'resetRestarts',
              on: {
                'pc.connectionState': [
                  { guard: 'isDisconnected', target: 'disconnected', actions: 'recordConnectionState' },
                  // Chrome may never report iceConnectionState "failed";
                  // connectionState does, so that is what is watched.
                  { guard: 'isFailed', target: 'restarting', actions: 'recordConnectionState' },
                  { actions: 'recordConnectionState' },
                ],
                'ui.restartIce': 'restarting',
              },
            },
            disconnected: {
              tags: ['reconnecting'],
              // "disconnected" often heals by itself; restart only if it lasts.
              after: { disconnected: 'restarting' },
              on: {
                'pc.connectionState': [
                  { guard: 'isConnected', target: 'connected', actions: 'recordConnectionState' },
                  { guard: 'isFailed', target: 'restarting', actions: 'recordConnectionState' },
                  { actions: 'recordConnectionState' },
                ],
                'ui.restartIce': 'restarting',
              },
            },
            restarting: {
              tags: ['reconnecting'],
              entry: 'restartIce',
              always: 'recovering',
            },
            recovering: {
              tags: ['reconnecting'],
              after: {
                restartBackoff: [{ guard: 'restartsExhausted', target: 'failed' }, { target: 'restarting' }],
              },
              // Checked after every event: the restart's end shows in the
              // negotiation (new credentials) or in the connection state.
              always: { guard: 'restartCompleted', target: 'connected' },
              on: {
                'pc.connectionState': [
                  { guard: 'isConnected', target: 'connected', actions: 'recordConnectionState' },
                  { actions: 'recordConnectionState' },
                ],
              },
            },
            failed: {
              tags: ['failed'],
              entry: 'recordFailure',
              on: {
                'pc.connectionState': [
                  { guard: 'isConnected', target: 'connected', actions: 'recordConnectionState' },
                  { actions: 'recordConnectionState' },
                ],
                'ui.retry': { target: 'restarting', actions: 'resetRestarts' },
                'ui.restartIce': { target: 'restarting', actions: 'resetRestarts' },
              },
            },
          },
        },
        channel: {
          initial: 'closed',
          states: {
            closed: { on: { 'channel.open': 'open' } },
            open: {
              entry: 'ping',
              on: {
                'channel.close': 'closed',
                'channel.send': { actions: 'sendOnChannel' },
              },
            },
          },
          on: { 'channel.message': { actions: 'receiveOnChannel' } },
        },
      },
    },
  },
})
