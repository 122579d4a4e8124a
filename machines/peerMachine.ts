import { and, assertEvent, assign, enqueueActions, not, or, raise, sendTo, setup, stateIn } from 'xstate'
import type { Logger } from '../lib/log'
import { CHANNEL_ID, CHANNEL_LABEL, parseChannelMessage, type ChannelMessage } from '../protocol/channel'
import type { SignalData } from '../protocol/messages'
import { DEFAULT_UPLINK_BPS, videoEncodingFor, type VideoEncoding } from './encoding'
import { NO_TRACKS, type LocalTracks } from './localTracks'
import {
  connectionEvents,
  connectionTasks,
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
  /** How long an offer may wait for its answer before it is sent again (default 10 s). */
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
  | { type: 'remote.description'; description: RTCSessionDescriptionInit; screenMid?: string; offer?: number }
  | { type: 'remote.candidate'; candidate: RTCIceCandidateInit | null }
  /** The remote's connection changed to a newer one, which ours adopted. */
  | { type: 'remote.adopted' }

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
  /**
   * Whether this connection has taken a remote description (applied, or
   * being applied). Until it has, it can adopt a newer remote connection
   * rather than start over.
   */
  tookDescription: boolean
  /** The answer this connection last sent, to send again if its offer comes again (its answer was lost). */
  lastAnswer: { offer: number; sdp: string } | null
  /** Number of the last signaling message this connection sent. */
  sentSeq: number
  /** Highest message number taken from the remote's current connection: anything not newer is stale. */
  remoteSeq: number
  /** Offers this side ignored as the impolite peer (model tests check who ignores). */
  ignoredOffers: number
  pendingCandidates: (RTCIceCandidateInit | null)[]
  localTracks: LocalTracks
  senders: Senders
  remoteStream: MediaStream
  remoteScreen: MediaStream
  /** The mid of the remote's screen-share transceiver, as its last description said. */
  remoteScreenMid: string | null
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
  dropped: {
    staleSession: number
    staleAck: number
    staleSeq: number
    staleOffer: number
    staleAnswer: number
    oldCandidate: number
  }
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
    remoteScreenMid: null,
    trackStreams: {},
    remoteTracks: { audio: false, video: false, screen: false },
    pendingCandidates: [],
    ignoreOffer: false,
    negotiationDeferred: false,
    offerSeq: 0,
    answering: undefined,
    remoteOfferSeq: 0,
    tookDescription: false,
    lastAnswer: null,
    sentSeq: 0,
    remoteSeq: 0,
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

/**
 * Takes `session` as the remote's connection. A connection that has taken
 * nothing from the older one can: our messages ack the new one from now on,
 * its numbering starts over, and an offer of ours it has not seen is sent
 * to it (`remote.adopted`).
 */
function adopt(
  context: PeerContext,
  session: number,
  enqueue: { assign(values: Partial<PeerContext>): void; raise(event: PeerEvent): void },
): void {
  if (context.remoteSession !== null) {
    context.log.debug('remote has a new connection: adopted', { remoteSession: session, previous: context.remoteSession })
    enqueue.raise({ type: 'remote.adopted' })
  }
  enqueue.assign({ remoteSession: session, remoteSeq: 0, remoteOfferSeq: 0, lastAnswer: null, pendingCandidates: [] })
}

/** What one signaling message says, before {@link sendSignal} numbers and addresses it. */
type SignalBody = SignalData extends infer T ? (T extends SignalData ? Omit<T, 'session' | 'seq' | 'ack'> : never) : never

/**
 * Sends `body` to the remote as the next message of this connection: our
 * session, the next `seq`, and the remote connection it is for (`ack`).
 */
function sendSignal(
  context: PeerContext,
  enqueue: { assign(values: Partial<PeerContext>): void; sendParent(event: PeerOutputEvent): void },
  body: SignalBody,
): void {
  const seq = context.sentSeq + 1
  enqueue.assign({ sentSeq: seq })
  const ack = context.remoteSession !== null ? { ack: context.remoteSession } : {}
  const data = { ...body, session: context.session, seq, ...ack } as SignalData
  enqueue.sendParent({ type: 'peer.signal', peerId: context.peerId, data })
}

/** A description for the remote, with its offer number and the mid of our screen share. */
function descriptionBody(
  context: PeerContext,
  description: { type: RTCSdpType; sdp?: string },
  offer: number | undefined,
): SignalBody {
  const sender = context.senders.screen
  const screenMid = sender ? context.pc.getTransceivers().find((t) => t.sender === sender)?.mid : null
  return {
    kind: 'description',
    description,
    ...(screenMid ? { screenMid } : {}),
    ...(offer !== undefined ? { offer } : {}),
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
  actors: { connectionEvents, connectionTasks, setLocalDescription, setRemoteDescription },
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
     * A newer connection of theirs (the remote reloaded, rejoined with the
     * same id, or started over) while ours has already taken a description
     * from an older one: ours must start over too. A connection that has
     * taken nothing from the remote adopts the newer one instead, so two
     * replacements never trigger each other more than once.
     */
    isFromNewRemoteConnection: ({ context, event }) => {
      assertEvent(event, ['signal.description', 'signal.candidate', 'signal.endOfCandidates'])
      return context.remoteSession !== null && event.session > context.remoteSession && context.tookDescription
    },
    /** Not newer than a message already taken from the same remote connection: a duplicate, a replay, or overtaken. */
    isOutOfOrder: ({ context, event }) => {
      assertEvent(event, ['signal.description', 'signal.candidate', 'signal.endOfCandidates'])
      return event.session === context.remoteSession && event.seq !== undefined && event.seq <= context.remoteSeq
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
    /**
     * The polite side of a collision before anything was negotiated: its
     * offer is the connection's first. Rolling that back leaves libwebrtc
     * (and Chromium) with a half-torn data section, so the answer refuses
     * the data channel when the two offers' layouts differ; a fresh
     * connection for the same session loses nothing instead.
     */
    mustSwapFirstOffer: and([
      'offerCollision',
      ({ context }) => context.polite && context.pc.currentLocalDescription === null && context.pc.currentRemoteDescription === null,
    ]),
    /**
     * The offer answered last, sent again: the remote did not get the answer
     * (lost with a socket), so it is sent again.
     */
    isAnsweredOffer: ({ context, event }) =>
      event.type === 'remote.description' &&
      event.description.type === 'offer' &&
      event.offer !== undefined &&
      event.offer === context.lastAnswer?.offer &&
      event.offer === context.remoteOfferSeq,
    /** An offer replayed (after a reconnect) or overtaken: not newer than one already taken. */
    isStaleOffer: ({ context, event }) =>
      event.type === 'remote.description' &&
      event.description.type === 'offer' &&
      event.offer !== undefined &&
      event.offer <= context.remoteOfferSeq,
    /** Only the offer we are waiting on can be answered; any other answer is stale. */
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
    dropStale: enqueueActions(({ context, event, enqueue }, reason: 'staleAck' | 'staleSession' | 'staleSeq') => {
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
      // A message that acknowledges our old connection was made for it and
      // is not taken again: the new one offers at once instead.
      return {
        ...createConnection(context),
        remoteSession: event.session,
        initiator: context.initiator || event.ack !== undefined,
      }
    }),
    /**
     * A fresh RTCPeerConnection for the same session: the remote sees the
     * same connection, whose first offer it ignored, and nothing else.
     */
    swapConnection: assign(({ context }) => {
      context.log.info('first offers collided: a fresh connection takes the remote offer')
      const { session: _, ...fresh } = createConnection(context)
      // The remote's numbering of this session goes on, and candidates
      // queued for its offer are for the offer the fresh connection takes.
      const { offerSeq, sentSeq, remoteSeq, remoteOfferSeq, pendingCandidates } = context
      return { ...fresh, offerSeq, sentSeq, remoteSeq, remoteOfferSeq, pendingCandidates }
    }),
    /** The message that made us start over, for the new connection, if it was not addressed to the old one. */
    resendDescription: raise(({ event }) => {
      assertEvent(event, 'remote.description')
      return event
    }),
    resend: enqueueActions(({ event, enqueue }) => {
      assertEvent(event, ['signal.description', 'signal.candidate', 'signal.endOfCandidates'])
      if (event.ack === undefined) enqueue.raise(event)
    }),
    /**
     * A newer remote connection that addresses an older one of ours: it is
     * not for this connection, but the remote's connection we know is gone.
     * Ours has taken nothing from it (isFromNewRemoteConnection comes
     * first), so it adopts the newer one: the remote hears from us, sees
     * we are not its old partner, and starts over for us.
     */
    adoptNewerRemote: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, ['signal.description', 'signal.candidate', 'signal.endOfCandidates'])
      if (context.remoteSession !== null && event.session > context.remoteSession) adopt(context, event.session, enqueue)
    }),
    acceptSignal: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, ['signal.description', 'signal.candidate', 'signal.endOfCandidates'])
      if (context.remoteSession === null || event.session > context.remoteSession) adopt(context, event.session, enqueue)
      if (event.seq !== undefined) enqueue.assign({ remoteSeq: event.seq })
      if (event.type === 'signal.description') {
        enqueue.raise({ type: 'remote.description', description: event.description, screenMid: event.screenMid, offer: event.offer })
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
    resendAnswer: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'remote.description')
      const { lastAnswer } = context
      if (!lastAnswer) return
      // The live answer carries the candidates gathered since.
      const live = context.pc.currentLocalDescription
      const sdp = live?.type === 'answer' && context.answering === lastAnswer.offer && live.sdp ? live.sdp : lastAnswer.sdp
      context.log.debug('answer sent again', { offer: lastAnswer.offer })
      sendSignal(context, enqueue, descriptionBody(context, { type: 'answer', sdp }, lastAnswer.offer))
    }),
    /** The remote offer being answered was not taken: the highest taken is the one answered last. */
    forgetOffer: assign(({ context }) => ({ remoteOfferSeq: context.lastAnswer?.offer ?? 0, answering: context.lastAnswer?.offer })),
    rollBackRemoteOffer: sendTo('tasks', { type: 'task.rollback' as const }),
    dropStaleOffer: assign(({ context, event }) => {
      assertEvent(event, 'remote.description')
      context.log.debug('stale offer dropped', { offer: event.offer, newest: context.remoteOfferSeq })
      return { dropped: { ...context.dropped, staleOffer: context.dropped.staleOffer + 1 } }
    }),
    acceptDescription: assign(({ event }) => {
      assertEvent(event, 'remote.description')
      return {
        ignoreOffer: false,
        tookDescription: true,
        ...(event.description.type === 'offer' ? { answering: event.offer, remoteOfferSeq: event.offer ?? 0 } : {}),
        remoteScreenMid: event.screenMid ?? null,
      }
    }),
    sendDescription: enqueueActions(({ context, enqueue }) => {
      const local = context.pc.localDescription
      const type = local?.type ?? 'offer'
      const offer = type === 'offer' ? context.offerSeq + 1 : context.answering
      if (type === 'offer') enqueue.assign({ offerSeq: offer })
      if (type === 'answer' && offer !== undefined) enqueue.assign({ lastAnswer: { offer, sdp: local?.sdp ?? '' } })
      context.log.debug('description sent', { type, offer, session: context.session })
      sendSignal(context, enqueue, descriptionBody(context, { type, sdp: local?.sdp }, offer))
    }),
    /** The offer still waiting for its answer, again, with the same number: its answer, or the offer, was lost. */
    resendOffer: enqueueActions(({ context, enqueue }) => {
      const local = context.pc.pendingLocalDescription
      if (local?.type !== 'offer') return
      context.log.debug('offer sent again', { offer: context.offerSeq, session: context.session })
      sendSignal(context, enqueue, descriptionBody(context, { type: 'offer', sdp: local.sdp }, context.offerSeq))
    }),
    sendCandidate: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'pc.iceCandidate')
      const { candidate } = event
      sendSignal(
        context,
        enqueue,
        candidate
          ? {
              kind: 'candidate',
              candidate: {
                candidate: candidate.candidate ?? '',
                sdpMid: candidate.sdpMid,
                sdpMLineIndex: candidate.sdpMLineIndex,
                usernameFragment: candidate.usernameFragment,
              },
            }
          : { kind: 'end-of-candidates' },
      )
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
      return { trackStreams, remoteTracks: syncRemoteTracks(context.pc, streams, trackStreams, context.remoteScreenMid) }
    }),
    syncRemoteTracks: assign(({ context }) => ({
      remoteTracks: syncRemoteTracks(
        context.pc,
        { main: context.remoteStream, screen: context.remoteScreen },
        context.trackStreams,
        context.remoteScreenMid,
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
      dropped: { staleSession: 0, staleAck: 0, staleSeq: 0, staleOffer: 0, staleAnswer: 0, oldCandidate: 0 },
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
          { guard: 'isStaleSession', actions: { type: 'dropStale', params: 'staleSession' } },
          { guard: 'isFromNewRemoteConnection', target: 'active', reenter: true, actions: ['replaceConnection', 'resend'] },
          { guard: 'isStaleAck', actions: [{ type: 'dropStale', params: 'staleAck' }, 'adoptNewerRemote'] },
          { guard: 'isOutOfOrder', actions: { type: 'dropStale', params: 'staleSeq' } },
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
              // Waiting on an answer ourselves: the remote was in have-local-offer
              // when our offer came, so (if impolite) it ignored it; it comes
              // again behind the answer, when the remote can take it.
              {
                guard: and(['isAnsweredOffer', stateIn(`${NEGOTIATION}.awaitingAnswer`)]),
                actions: ['resendAnswer', 'resendOffer'],
              },
              { guard: 'isAnsweredOffer', actions: 'resendAnswer' },
              { guard: 'isStaleOffer', actions: 'dropStaleOffer' },
              { guard: 'mustIgnoreOffer', actions: 'ignoreOffer' },
              { guard: 'mustSwapFirstOffer', target: '#peer.active', reenter: true, actions: ['swapConnection', 'resendDescription'] },
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
              // An offer or answer lost with the signaling socket would leave
              // the offer pending forever: send it again, with its number, and
              // the remote answers it (or sends its answer again). Never roll
              // it back: the remote may have applied it, and a rolled-back
              // offer's transceivers get new mids the remote would refuse.
              on: {
                'room.signalingRestored': { target: 'awaitingAnswer', reenter: true, actions: 'resendOffer' },
                'remote.adopted': { actions: 'resendOffer' },
              },
              after: { answerTimeout: { target: 'awaitingAnswer', reenter: true, actions: 'resendOffer' } },
            },
            settingRemoteOffer: {
              invoke: {
                src: 'setRemoteDescription',
                input: remoteDescriptionInput,
                onDone: { target: 'answering', actions: 'flushCandidates' },
                // Not taken after all: the offer sent again must not be dropped as stale.
                onError: { target: 'stable', actions: [{ type: 'recordError', params: 'setRemoteDescription(offer)' }, 'forgetOffer'] },
              },
            },
            answering: {
              invoke: {
                src: 'setLocalDescription',
                input: ({ context }) => ({ pc: context.pc }),
                onDone: { target: 'stable', actions: 'sendDescription' },
                // Back to stable for real (the remote offer rolled back), so
                // the offer sent again is taken afresh.
                onError: {
                  target: 'stable',
                  actions: [{ type: 'recordError', params: 'setLocalDescription(answer)' }, 'forgetOffer', 'rollBackRemoteOffer'],
                },
              },
            },
            settingRemoteAnswer: {
              invoke: {
                src: 'setRemoteDescription',
                input: remoteDescriptionInput,
                onDone: { target: 'stable', actions: 'flushCandidates' },
                // The offer is still ours to complete: wait on, and the timeout
                // sends it again, which the remote answers again.
                onError: { target: 'awaitingAnswer', actions: { type: 'recordError', params: 'setRemoteDescription(answer)' } },
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
