/**
 * Perfect negotiation, as in the webrtc-pc specification's example
 * (§10.7, "Perfect negotiation example"), with each of its flags made a state
 * or a guard of the `negotiation` region in `../peerMachine.ts`:
 *
 * | §10.7 example                                                   | meshcall                                                                     |
 * |-----------------------------------------------------------------|------------------------------------------------------------------------------|
 * | `onnegotiationneeded`: `makingOffer = true`                      | `stable` → `makingOffer` on `pc.negotiationNeeded`                            |
 * | `await pc.setLocalDescription()`                                 | `makingOffer` invokes `setLocalDescription`                                  |
 * | `signaler.send({ description })`                                 | action `sendDescription`, then `awaitingAnswer`                              |
 * | `finally { makingOffer = false }`                                | leaving `makingOffer` (done or error)                                        |
 * | `readyForOffer = !makingOffer && (stable ‖ isSettingRemoteAnswerPending)` | guard `readyForOffer`                                               |
 * | `offerCollision = type == "offer" && !readyForOffer`             | guard `offerCollision`                                                       |
 * | `ignoreOffer = !polite && offerCollision; if (ignoreOffer) return` | guard `mustIgnoreOffer`, action `ignoreOffer`                              |
 * | `isSettingRemoteAnswerPending = true; await SRD(answer)`         | state `settingRemoteAnswer`                                                  |
 * | `await SRD(offer)` (rolls back a local offer)                    | state `settingRemoteOffer`                                                   |
 * | `if (offer) { await SLD(); send(answer) }`                       | state `answering`, action `sendDescription`                                  |
 * | `else if (candidate) addIceCandidate`, errors kept only if `!ignoreOffer` | `remote.candidate` (`./candidates.ts`), `task.ignored` (`connectionTasks`) |
 * | `oniceconnectionstatechange`: `failed` → `restartIce()`          | the `connection` region (`./recovery.ts`)                                    |
 *
 * What meshcall adds, and why:
 * - **Offer numbers** (`offer` on descriptions). The example assumes a
 *   lossless, ordered channel; a room server's socket can drop or replay
 *   messages around a reconnect. An offer with no answer is sent again with
 *   its number (`awaitingAnswer`, `answerTimeout`, `resendOffer`), never
 *   rolled back, since the remote may have applied it. The offer answered
 *   last gets its answer again (`isAnsweredOffer`, `resendAnswer`); an older
 *   offer and any answer but the one awaited are dropped (`isStaleOffer`,
 *   `isUnexpectedAnswer`).
 * - **Sessions** (`./session.ts`). A reload or a new connection on either
 *   side must not take signaling meant for the old one.
 * - **`mustSwapFirstOffer`**. Rolling back the first offer of a connection
 *   leaves libwebrtc (and Chromium) with a half-torn data section, so the
 *   polite side takes a colliding first offer on a fresh connection of the
 *   same session instead.
 * - **The ignored offer's answer.** The impolite side that ignores a
 *   colliding offer sends its own pending offer again (`resendOffer`): the
 *   collision says the remote has not taken it, and it may have been lost
 *   with a signaling socket; the example waits on it forever.
 * - **`waitingForOffer`**. The newcomer offers first and the others wait a
 *   moment for it, so a join does not start with glare every time.
 * - **ICE restarts come from the impolite side** (`./recovery.ts`): the
 *   example's `restartIce()` on either side makes two restart offers collide
 *   after nearly every outage, and Chromium stops showing a connection's
 *   remote video once the polite side has rolled an offer back. The polite
 *   side asks instead (a `restart` signal).
 */
import { and, assertEvent, not, or, stateIn } from 'xstate'
import { createLink } from './connection'
import { sendSignal, type SignalBody } from './session'
import { NEGOTIATION, peerSetup, type PeerContext, type PeerEvent } from './types'

type Args = { context: PeerContext; event: PeerEvent }

/** A description for the remote, with its offer number and the mid of our screen share. */
function descriptionBody(context: PeerContext, description: { type: RTCSdpType; sdp?: string }, offer: number | undefined): SignalBody {
  const sender = context.link.senders.screen
  const screenMid = sender ? context.link.pc.getTransceivers().find((t) => t.sender === sender)?.mid : null
  return {
    kind: 'description',
    description,
    ...(screenMid ? { screenMid } : {}),
    ...(offer !== undefined ? { offer } : {}),
  }
}

/** Input of the setRemoteDescription actor: the description the transition accepted. */
export function remoteDescriptionInput({ context, event }: Args) {
  assertEvent(event, 'remote.description')
  return { pc: context.link.pc, description: event.description }
}

export const negotiationGuards = {
  isOffer: ({ event }: Args) => event.type === 'remote.description' && event.description.type === 'offer',
  isAnswer: ({ event }: Args) => event.type === 'remote.description' && event.description.type === 'answer',
  isImpolite: ({ context }: Args) => !context.polite,
  signalingStable: ({ context }: Args) => context.link.pc.signalingState === 'stable',
  readyForOffer: and([not(stateIn(`${NEGOTIATION}.makingOffer`)), or(['signalingStable', stateIn(`${NEGOTIATION}.settingRemoteAnswer`)])]),
  offerCollision: and(['isOffer', not('readyForOffer')]),
  mustIgnoreOffer: and(['isImpolite', 'offerCollision']),
  /**
   * The polite side of a collision before anything was negotiated: its
   * offer is the connection's first. Rolling that back leaves libwebrtc
   * (and Chromium) with a half-torn data section, so the answer refuses
   * the data channel when the two offers' layouts differ; a fresh
   * connection for the same session loses nothing instead.
   */
  mustSwapFirstOffer: and(['offerCollision', 'isPoliteWithNothingNegotiated']),
  isPoliteWithNothingNegotiated: ({ context }: Args) =>
    context.polite && context.link.pc.currentLocalDescription === null && context.link.pc.currentRemoteDescription === null,
  /**
   * The offer answered last, sent again: the remote did not get the answer
   * (lost with a socket), so it is sent again.
   */
  isAnsweredOffer: ({ context, event }: Args) =>
    event.type === 'remote.description' &&
    event.description.type === 'offer' &&
    event.offer !== undefined &&
    event.offer === context.link.lastAnswer?.offer &&
    event.offer === context.signaling.remoteOfferSeq,
  /** An offer replayed (after a reconnect) or overtaken: not newer than one already taken. */
  isStaleOffer: ({ context, event }: Args) =>
    event.type === 'remote.description' &&
    event.description.type === 'offer' &&
    event.offer !== undefined &&
    event.offer <= context.signaling.remoteOfferSeq,
  /** Only the offer we are waiting on can be answered; any other answer is stale. */
  isUnexpectedAnswer: and(['isAnswer', or([not(stateIn(`${NEGOTIATION}.awaitingAnswer`)), 'answersAnotherOffer'])]),
  /** An answer numbered for an offer other than the one we sent last. */
  answersAnotherOffer: ({ context, event }: Args) =>
    event.type === 'remote.description' && event.offer !== undefined && event.offer !== context.signaling.offerSeq,
  madeOffer: ({ context }: Args) => context.link.pc.signalingState === 'have-local-offer',
  /** negotiationneeded fired while the machine was not yet stable (see the negotiation region). */
  negotiationPending: ({ context }: Args) => context.link.negotiationPending && context.link.pc.signalingState === 'stable',
  negotiationDeferred: ({ context }: Args) => context.link.negotiationDeferred,
  isInitiator: ({ context }: Args) => context.initiator,
}

export const negotiationActions = {
  /** negotiationneeded while waiting for the remote's first offer: offer once the wait is over, if none came. */
  deferNegotiation: peerSetup.assign(({ context }) => ({ link: { ...context.link, negotiationDeferred: true } })),
  ignoreOffer: peerSetup.assign(({ context }) => {
    context.log.debug('offer ignored (impolite side of a collision)')
    return { link: { ...context.link, ignoreOffer: true }, ignoredOffers: context.ignoredOffers + 1 }
  }),
  acceptDescription: peerSetup.assign(({ context, event }) => {
    assertEvent(event, 'remote.description')
    const isOffer = event.description.type === 'offer'
    return {
      link: {
        ...context.link,
        ignoreOffer: false,
        tookDescription: true,
        remoteScreenMid: event.screenMid ?? null,
        ...(isOffer ? { answering: event.offer } : {}),
      },
      ...(isOffer ? { signaling: { ...context.signaling, remoteOfferSeq: event.offer ?? 0 } } : {}),
    }
  }),
  /** The local description just set (an offer, or the answer to a remote offer), to the remote. */
  sendDescription: peerSetup.enqueueActions(({ context, enqueue }) => {
    const local = context.link.pc.localDescription
    const type = local?.type ?? 'offer'
    const offer = type === 'offer' ? context.signaling.offerSeq + 1 : context.link.answering
    if (type === 'offer')
      enqueue.assign(({ context: current }) => ({ signaling: { ...current.signaling, offerSeq: context.signaling.offerSeq + 1 } }))
    if (type === 'answer' && offer !== undefined) {
      enqueue.assign(({ context: current }) => ({ link: { ...current.link, lastAnswer: { offer, sdp: local?.sdp ?? '' } } }))
    }
    context.log.debug('description sent', { type, offer, session: context.signaling.session })
    sendSignal(context, enqueue, descriptionBody(context, { type, sdp: local?.sdp }, offer))
  }),
  /** The offer still waiting for its answer, again, with the same number: its answer, or the offer, was lost. */
  resendOffer: peerSetup.enqueueActions(({ context, enqueue }) => {
    const local = context.link.pc.pendingLocalDescription
    if (local?.type !== 'offer') return
    context.log.debug('offer sent again', { offer: context.signaling.offerSeq, session: context.signaling.session })
    sendSignal(context, enqueue, descriptionBody(context, { type: 'offer', sdp: local.sdp }, context.signaling.offerSeq))
  }),
  resendAnswer: peerSetup.enqueueActions(({ context, event, enqueue }) => {
    assertEvent(event, 'remote.description')
    const { lastAnswer, answering, pc } = context.link
    if (!lastAnswer) return
    // The live answer carries the candidates gathered since.
    const live = pc.currentLocalDescription
    const sdp = live?.type === 'answer' && answering === lastAnswer.offer && live.sdp ? live.sdp : lastAnswer.sdp
    context.log.debug('answer sent again', { offer: lastAnswer.offer })
    sendSignal(context, enqueue, descriptionBody(context, { type: 'answer', sdp }, lastAnswer.offer))
  }),
  dropStaleAnswer: peerSetup.assign(({ context }) => {
    context.log.debug('stale answer dropped', { signalingState: context.link.pc.signalingState })
    return { dropped: { ...context.dropped, staleAnswer: context.dropped.staleAnswer + 1 } }
  }),
  dropStaleOffer: peerSetup.assign(({ context, event }) => {
    assertEvent(event, 'remote.description')
    context.log.debug('stale offer dropped', { offer: event.offer, newest: context.signaling.remoteOfferSeq })
    return { dropped: { ...context.dropped, staleOffer: context.dropped.staleOffer + 1 } }
  }),
  /** The remote offer being answered was not taken: the highest taken is the one answered last. */
  noteNegotiationNeeded: peerSetup.assign(({ context }) => ({ link: { ...context.link, negotiationPending: true } })),
  forgetNegotiationNeeded: peerSetup.assign(({ context }) => ({ link: { ...context.link, negotiationPending: false } })),
  forgetOffer: peerSetup.assign(({ context }) => {
    const answered = context.link.lastAnswer?.offer
    return { signaling: { ...context.signaling, remoteOfferSeq: answered ?? 0 }, link: { ...context.link, answering: answered } }
  }),
  rollBackRemoteOffer: peerSetup.sendTo('tasks', { type: 'task.rollback' as const }),
  /**
   * A fresh RTCPeerConnection for the same session: the remote sees the
   * same connection, whose first offer it ignored, and nothing else. The
   * session's numbering goes on, and candidates queued for the remote's
   * offer are for the offer the fresh connection takes.
   */
  swapConnection: peerSetup.assign(({ context }) => {
    context.log.info('first offers collided: a fresh connection takes the remote offer')
    return { link: createLink(context) }
  }),
  /** The offer that made the swap, for the fresh connection to take. */
  resendDescription: peerSetup.raise(({ event }) => {
    assertEvent(event, 'remote.description')
    return event
  }),
}
