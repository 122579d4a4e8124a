/**
 * Sessions and staleness: which signaling belongs to the connections the
 * two sides have now. meshcall's extension of perfect negotiation, which
 * assumes one connection for the life of the pair and a lossless, ordered
 * channel; a mesh over a room server has neither (reloads, reconnects,
 * replays).
 *
 * Every message carries the sender's `session` (a clock-based number that
 * grows across reloads), its `seq` within that session, and `ack`, the
 * receiver's session it was made for. A receiver drops what is older than
 * what it already took, starts over when the remote has a newer connection,
 * and adopts a newer remote connection if its own has taken nothing yet.
 */
import { assertEvent, enqueueActions } from 'xstate'
import type { SignalData } from '../../protocol/messages'
import { createLink, createSignaling } from './connection'
import { peerSetup, SIGNAL_EVENTS, type DropReason, type Enqueue, type PeerContext, type PeerEvent, type SignalEvent } from './types'

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
    case 'restart': {
      const { kind: _, ...rest } = data
      return { type: 'signal.restart', ...rest }
    }
  }
}

/** What one signaling message says, before {@link sendSignal} numbers and addresses it. */
export type SignalBody = SignalData extends infer T ? (T extends SignalData ? Omit<T, 'session' | 'seq' | 'ack'> : never) : never

/**
 * Sends `body` to the remote as the next message of this session: our
 * session, the next `seq`, and the remote connection it is for (`ack`).
 */
export function sendSignal(context: PeerContext, enqueue: Pick<Enqueue, 'assign' | 'sendParent'>, body: SignalBody): void {
  const seq = context.signaling.sentSeq + 1
  enqueue.assign(({ context: current }) => ({ signaling: { ...current.signaling, sentSeq: seq } }))
  const ack = context.remoteSession !== null ? { ack: context.remoteSession } : {}
  // SignalBody is SignalData without the three fields added here; TypeScript
  // cannot see that spreading them back rebuilds the same union.
  const data = { ...body, session: context.signaling.session, seq, ...ack } as SignalData
  enqueue.sendParent({ type: 'peer.signal', peerId: context.peerId, data })
}

/**
 * Takes `session` as the remote's connection. A connection that has taken
 * nothing from the older one can: our messages ack the new one from now on,
 * its numbering starts over, and an offer of ours it has not seen is sent
 * to it (`remote.adopted`).
 */
function adopt(context: PeerContext, session: number, enqueue: Pick<Enqueue, 'assign' | 'raise'>): void {
  if (context.remoteSession !== null) {
    context.log.debug('remote has a new connection: adopted', { remoteSession: session, previous: context.remoteSession })
    enqueue.raise({ type: 'remote.adopted' })
  }
  enqueue.assign(({ context: current }) => ({
    remoteSession: session,
    signaling: { ...current.signaling, remoteSeq: 0, remoteOfferSeq: 0, pendingCandidates: [] },
    link: { ...current.link, lastAnswer: null },
  }))
}

export const sessionGuards = {
  /** Addressed to a connection of ours that no longer exists, or from an older one of theirs. */
  isStaleAck: ({ context, event }: { context: PeerContext; event: PeerEvent }) => {
    assertEvent(event, SIGNAL_EVENTS)
    return event.ack !== undefined && event.ack !== context.signaling.session
  },
  isStaleSession: ({ context, event }: { context: PeerContext; event: PeerEvent }) => {
    assertEvent(event, SIGNAL_EVENTS)
    return context.remoteSession !== null && event.session < context.remoteSession
  },
  /**
   * A newer connection of theirs (the remote reloaded, rejoined with the
   * same id, or started over) while ours has already taken a description
   * from an older one: ours must start over too. A connection that has
   * taken nothing from the remote adopts the newer one instead, so two
   * replacements never trigger each other more than once.
   */
  isFromNewRemoteConnection: ({ context, event }: { context: PeerContext; event: PeerEvent }) => {
    assertEvent(event, SIGNAL_EVENTS)
    return context.remoteSession !== null && event.session > context.remoteSession && context.link.tookDescription
  },
  /** Not newer than a message already taken from the same remote connection: a duplicate, a replay, or overtaken. */
  isOutOfOrder: ({ context, event }: { context: PeerContext; event: PeerEvent }) => {
    assertEvent(event, SIGNAL_EVENTS)
    return event.session === context.remoteSession && event.seq !== undefined && event.seq <= context.signaling.remoteSeq
  },
}

export const sessionActions = {
  dropStale: enqueueActions<PeerContext, PeerEvent, DropReason, PeerEvent, never, never, never, never, never>(
    ({ context, event, enqueue }, reason) => {
      assertEvent(event, SIGNAL_EVENTS)
      context.log.debug('stale signaling dropped', { reason, kind: event.type, session: event.session, ack: event.ack })
      enqueue.assign({ dropped: { ...context.dropped, [reason]: context.dropped[reason] + 1 } })
    },
  ),
  replaceConnection: peerSetup.assign(({ context, event }) => {
    assertEvent(event, SIGNAL_EVENTS)
    context.log.info('remote has a new connection: starting over', {
      remoteSession: event.session,
      previous: context.remoteSession,
    })
    // The old connection is closed by its connectionEvents actor as the state exits.
    // A message that acknowledges our old connection was made for it and
    // is not taken again: the new one offers at once instead.
    return {
      link: createLink(context),
      signaling: createSignaling(),
      remoteSession: event.session,
      initiator: context.initiator || event.ack !== undefined,
    }
  }),
  /** The message that made us start over, for the new connection, if it was not addressed to the old one. */
  resend: peerSetup.enqueueActions(({ event, enqueue }) => {
    assertEvent(event, SIGNAL_EVENTS)
    if (event.ack === undefined) enqueue.raise(event)
  }),
  /**
   * A newer remote connection that addresses an older one of ours: it is
   * not for this connection, but the remote's connection we know is gone.
   * Ours has taken nothing from it (isFromNewRemoteConnection comes
   * first), so it adopts the newer one: the remote hears from us, sees
   * we are not its old partner, and starts over for us.
   */
  adoptNewerRemote: peerSetup.enqueueActions(({ context, event, enqueue }) => {
    assertEvent(event, SIGNAL_EVENTS)
    if (context.remoteSession !== null && event.session > context.remoteSession) adopt(context, event.session, enqueue)
  }),
  /** Takes a message of the remote's current connection, and hands its content to the negotiation. */
  acceptSignal: peerSetup.enqueueActions(({ context, event, enqueue }) => {
    assertEvent(event, SIGNAL_EVENTS)
    if (context.remoteSession === null || event.session > context.remoteSession) adopt(context, event.session, enqueue)
    if (event.seq !== undefined)
      enqueue.assign(({ context: current }) => ({ signaling: { ...current.signaling, remoteSeq: event.seq ?? 0 } }))
    if (event.type === 'signal.description') {
      enqueue.raise({ type: 'remote.description', description: event.description, screenMid: event.screenMid, offer: event.offer })
    } else if (event.type === 'signal.candidate') {
      enqueue.raise({ type: 'remote.candidate', candidate: event.candidate })
    } else if (event.type === 'signal.restart') {
      enqueue.raise({ type: 'remote.restart', ufrag: event.ufrag })
    } else {
      enqueue.raise({ type: 'remote.candidate', candidate: null })
    }
  }),
}
