/**
 * ICE candidates: trickled to the remote as they are gathered, and the
 * remote's applied once there is a description for them. As LiveKit's
 * PCTransport does, candidates that arrive before the remote description
 * are queued, and candidates of an ICE generation since replaced (before a
 * restart, or of an offer ignored or rolled back) are dropped.
 */
import { and, assertEvent, not, stateIn } from 'xstate'
import { remoteUfrags } from './connection'
import { sendSignal } from './session'
import { NEGOTIATION, peerSetup, type PeerContext, type PeerEvent } from './types'

type Args = { context: PeerContext; event: PeerEvent }

export const candidateGuards = {
  /** No remote description yet, and none being applied: the candidate must wait. */
  mustQueueCandidate: and([
    'hasNoRemoteDescription',
    not(stateIn(`${NEGOTIATION}.settingRemoteOffer`)),
    not(stateIn(`${NEGOTIATION}.settingRemoteAnswer`)),
  ]),
  hasNoRemoteDescription: ({ context }: Args) => context.link.pc.remoteDescription === null,
  /** A candidate of an ICE generation before the current remote description (after a restart). */
  isFromOldIceGeneration: and([
    not(stateIn(`${NEGOTIATION}.settingRemoteOffer`)),
    not(stateIn(`${NEGOTIATION}.settingRemoteAnswer`)),
    'hasUnknownUfrag',
  ]),
  /** The candidate names ICE credentials that no applied remote description has. */
  hasUnknownUfrag: ({ context, event }: Args) => {
    assertEvent(event, 'remote.candidate')
    const ufrag = event.candidate?.usernameFragment
    if (!ufrag) return false
    const known = remoteUfrags(context.link.pc)
    return known.length > 0 && !known.includes(ufrag)
  },
}

export const candidateActions = {
  sendCandidate: peerSetup.enqueueActions(({ context, event, enqueue }) => {
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
  queueCandidate: peerSetup.assign(({ context, event }) => {
    assertEvent(event, 'remote.candidate')
    return { signaling: { ...context.signaling, pendingCandidates: [...context.signaling.pendingCandidates, event.candidate] } }
  }),
  addCandidate: peerSetup.sendTo('tasks', ({ context, event }) => {
    assertEvent(event, 'remote.candidate')
    return { type: 'task.addCandidate' as const, candidate: event.candidate, ignoringOffer: context.link.ignoreOffer }
  }),
  dropOldCandidate: peerSetup.assign(({ context }) => ({
    dropped: { ...context.dropped, oldCandidate: context.dropped.oldCandidate + 1 },
  })),
  flushCandidates: peerSetup.enqueueActions(({ context, enqueue }) => {
    // Queued candidates may belong to an offer that was ignored or rolled
    // back (whose ICE credentials no longer exist): keep only those of the
    // description now applied.
    const known = remoteUfrags(context.link.pc)
    let old = 0
    for (const candidate of context.signaling.pendingCandidates) {
      const ufrag = candidate?.usernameFragment
      if (ufrag && known.length > 0 && !known.includes(ufrag)) {
        old++
        continue
      }
      enqueue.sendTo('tasks', { type: 'task.addCandidate', candidate, ignoringOffer: context.link.ignoreOffer })
    }
    enqueue.assign({
      signaling: { ...context.signaling, pendingCandidates: [] },
      dropped: { ...context.dropped, oldCandidate: context.dropped.oldCandidate + old },
    })
  }),
}
