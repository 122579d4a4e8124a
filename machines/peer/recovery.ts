/**
 * Keeping the pair connected: the `connection` region's timers, and ICE
 * restarts with backoff. The §10.7 example restarts ICE when
 * iceConnectionState is `failed`; meshcall watches connectionState (Chrome
 * may never report iceConnectionState `failed`), restarts too when
 * `disconnected` lasts, and gives up in `failed` after a bounded number of
 * restarts, each after a longer wait.
 *
 * Only the impolite side restarts ICE. The polite side asks it to (a
 * `restart` signal naming the impolite side's ICE username fragment as the
 * polite side has it), and the impolite side restarts if nothing has
 * restarted since. Both sides notice an outage at about the same time, so
 * two restart offers would collide nearly every time, and the polite side
 * would roll its own back. Chromium (156) delivers no more frames to a
 * receiver's track once a local offer has been rolled back (the pair is
 * connected and decodes, the picture stays frozen: w3c/webrtc-pc#3081), so
 * a polite side never holds a restart offer.
 */
import { assertEvent } from 'xstate'
import { iceUfrags } from '../peerMedia'
import { sendSignal } from './session'
import { peerSetup, type PeerContext, type PeerEvent, type PeerFailure, type RecoveryCause } from './types'

type Args = { context: PeerContext; event: PeerEvent }

/**
 * The ICE generation the descriptions in force set up: the local and remote
 * ufrags. Either side's ICE restart, once negotiated, changes it.
 */
function iceGeneration(pc: PeerContext['link']['pc']): string {
  return `${iceUfrags(pc.currentLocalDescription?.sdp)[0] ?? ''}/${iceUfrags(pc.currentRemoteDescription?.sdp)[0] ?? ''}`
}

export const recoveryDelays = {
  // The polite side waits half as long again before restarting, so the two
  // sides do not restart in lockstep and collide every time.
  disconnected: ({ context }: { context: PeerContext }) => context.timings.disconnectedMs * (context.polite ? 1.5 : 1),
  heartbeat: ({ context }: { context: PeerContext }) => context.timings.heartbeatMs,
  silence: ({ context }: { context: PeerContext }) => context.timings.silenceMs,
  connectTimeout: ({ context }: { context: PeerContext }) => context.timings.connectTimeoutMs * (context.polite ? 1.5 : 1),
  answerTimeout: ({ context }: { context: PeerContext }) => context.timings.answerTimeoutMs,
  firstOfferWait: ({ context }: { context: PeerContext }) => context.timings.firstOfferWaitMs,
  restartBackoff: ({ context }: { context: PeerContext }) =>
    Math.min(30_000, context.timings.restartBackoffMs * 2 ** Math.max(0, context.link.restarts - 1)) * (context.polite ? 1.5 : 1),
}

export const recoveryGuards = {
  isConnected: ({ event }: Args) => event.type === 'pc.connectionState' && event.state === 'connected',
  isDisconnected: ({ event }: Args) => event.type === 'pc.connectionState' && event.state === 'disconnected',
  isFailed: ({ event }: Args) => event.type === 'pc.connectionState' && event.state === 'failed',
  /** The connection says connected (it may never have said otherwise: silence is the channel's finding, not ICE's). */
  iceSaysConnected: ({ context }: Args) => context.link.pc.connectionState === 'connected',
  restartsExhausted: ({ context }: Args) => context.link.restarts >= context.timings.maxRestarts,
  /**
   * A restart on a live connection never leaves "connected", so no state
   * change announces its end: it is done when new local credentials are
   * applied and the connection is up.
   */
  restartCompleted: ({ context }: Args) => {
    const { pc, restartFrom } = context.link
    const ufrag = iceUfrags(pc.currentLocalDescription?.sdp)[0]
    return pc.connectionState === 'connected' && pc.signalingState === 'stable' && ufrag !== undefined && ufrag !== restartFrom
  },
  /**
   * A new ICE generation is in force since the recovery last looked: an ICE
   * restart, ours or the remote's, has been negotiated and its checks are
   * running. Restarting again now would throw them away.
   */
  /**
   * The remote's request to restart ICE names our ICE credentials in force,
   * and no restart of ours is on its way: nothing has restarted since it
   * asked. (A polite side's request is for the impolite side; a polite side
   * restarts only by asking.)
   */
  isCurrentRestartRequest: ({ context, event }: Args) => {
    if (event.type !== 'remote.restart' || context.polite) return false
    const { pc } = context.link
    const current = iceUfrags(pc.currentLocalDescription?.sdp)[0] ?? ''
    const pending = iceUfrags(pc.pendingLocalDescription?.sdp)[0]
    return event.ufrag === current && (pending === undefined || pending === current)
  },
  newIceGeneration: ({ context }: Args) => {
    const { pc, generation } = context.link
    return pc.signalingState === 'stable' && generation !== null && iceGeneration(pc) !== generation
  },
}

const MAX_RECOVERIES = 20

const NO_RELAY: PeerFailure = {
  reason: 'no-relay',
  message:
    'No direct connection could be made: the networks in between block direct connections, and this call has no relay (TURN) server. ' +
    'The operator should configure one: turn: URLs in MESHCALL_ICE_URLS, with MESHCALL_TURN_SECRET.',
}

/** Whether any of the ICE servers is a TURN server. */
function hasRelay(iceServers: RTCIceServer[]): boolean {
  return iceServers.some((server) => [server.urls].flat().some((url) => /^turns?:/.test(url)))
}

export const recoveryActions = {
  /** Leaving `connected`: a recovery begins, unless the connection itself is being replaced. */
  beginRecovery: peerSetup.assign(({ event }) => {
    const cause: RecoveryCause | null =
      event.type === 'ui.restartIce'
        ? 'restart'
        : event.type === 'pc.connectionState' && (event.state === 'disconnected' || event.state === 'failed')
          ? event.state
          : event.type === 'link.silent'
            ? 'silent'
            : event.type === 'remote.restart'
              ? 'asked'
              : event.type === 'room.networkChanged'
                ? 'network'
                : null
    return { recovering: cause ? { cause, since: Date.now() } : null }
  }),
  /** Back in `connected`: the recovery under way, if any, is done. */
  endRecovery: peerSetup.assign(({ context }) => {
    const { recovering } = context
    if (!recovering) return {}
    const recovery = { cause: recovering.cause, ms: Date.now() - recovering.since }
    context.log.info('recovered', recovery)
    return { recovering: null, recoveries: [...context.recoveries, recovery].slice(-MAX_RECOVERIES) }
  }),
  /** Restarts ICE, or (polite) asks the remote to: see the top of this file. */
  restartIce: peerSetup.enqueueActions(({ context, enqueue }) => {
    const { pc, restarts } = context.link
    const attempt = { attempt: restarts + 1, connectionState: pc.connectionState }
    if (context.polite) {
      context.log.info('asking the remote to restart ICE', attempt)
      sendSignal(context, enqueue, { kind: 'restart', ufrag: iceUfrags(pc.currentRemoteDescription?.sdp)[0] ?? '' })
    } else {
      context.log.info('restarting ICE', attempt)
      // Restart, never recreate: browsers cap RTCPeerConnections per page
      // (Chromium at 500), so a recreate loop would exhaust them.
      pc.restartIce()
    }
    enqueue.assign(({ context: current }) => ({
      link: { ...current.link, restarts: restarts + 1, restartFrom: iceUfrags(pc.currentLocalDescription?.sdp)[0] ?? null },
      totalRestarts: current.totalRestarts + 1,
    }))
  }),
  /** Notes the ICE generation in force, which `newIceGeneration` compares with. */
  noteIceGeneration: peerSetup.assign(({ context }) => ({ link: { ...context.link, generation: iceGeneration(context.link.pc) } })),
  /** A restart request that is not current (see isCurrentRestartRequest), or one sent to a polite side. */
  dropRestartRequest: peerSetup.assign(({ context, event }) => {
    assertEvent(event, 'remote.restart')
    context.log.debug('restart request dropped', {
      ufrag: event.ufrag,
      polite: context.polite,
      signalingState: context.link.pc.signalingState,
    })
    return { dropped: { ...context.dropped, staleRestart: context.dropped.staleRestart + 1 } }
  }),
  resetRestarts: peerSetup.assign(({ context }) => ({ link: { ...context.link, restarts: 0, failure: null } })),
  /**
   * The first attempt to connect failed although the two sides negotiated
   * (so ICE checks ran, and found no path). With no TURN server in the call,
   * nothing can cross networks that block direct connections: say so now,
   * in words an operator can act on, rather than after every restart.
   */
  diagnoseFirstAttempt: peerSetup.assign(({ context }) => {
    if (hasRelay(context.iceServers) || context.link.pc.remoteDescription === null) return {}
    context.log.warn('no direct connection, and no TURN server to relay through', { relayOnly: context.relayOnly })
    return { link: { ...context.link, failure: NO_RELAY } }
  }),
  recordFailure: peerSetup.assign(({ context }) => {
    context.log.warn('peer failed', { reason: context.link.failure?.reason ?? 'ice-failed', restarts: context.link.restarts })
    if (context.link.failure?.reason === 'no-relay') return {}
    const message = `no connection after ${context.link.restarts} ICE restarts`
    return { link: { ...context.link, failure: { reason: 'ice-failed' as const, message } } }
  }),
  recordConnectionState: peerSetup.assign(({ context, event }) => {
    assertEvent(event, 'pc.connectionState')
    return { link: { ...context.link, connectionState: event.state } }
  }),
  recordSignalingState: peerSetup.assign(({ context, event }) => {
    assertEvent(event, 'pc.signalingState')
    return { link: { ...context.link, signalingState: event.state } }
  }),
}
