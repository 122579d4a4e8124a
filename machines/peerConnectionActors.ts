/**
 * The actors through which the peer machine touches its RTCPeerConnection.
 * Each WebRTC promise is wrapped here, so that a failure reaches the machine
 * as an event or an `onError` transition, never as a thrown exception.
 */
import { fromCallback, fromPromise } from 'xstate'
import type { VideoEncoding } from './encoding'
import { pairSummary, toSnapshot } from './inspect/stats'
import type { DataChannelLike, MediaStreamTrackLike, PeerConnectionLike, RtpSenderLike } from './webrtc'

/** Events the connection reports to the peer machine. */
export type ConnectionEvent =
  | { type: 'pc.negotiationNeeded' }
  | { type: 'pc.iceCandidate'; candidate: RTCIceCandidateInit | null }
  | { type: 'pc.connectionState'; state: RTCPeerConnectionState }
  | { type: 'pc.signalingState'; state: RTCSignalingState }
  | { type: 'pc.track'; track: MediaStreamTrackLike; streamId: string | null }
  | { type: 'channel.open' }
  | { type: 'channel.close' }
  | { type: 'channel.message'; data: unknown }

/**
 * Forwards the connection's and the data channel's events to the machine,
 * and closes both when the machine leaves the state that owns them (or is
 * stopped), so a connection is never left open behind a stopped actor.
 */
export const connectionEvents = fromCallback<{ type: 'noop' }, { pc: PeerConnectionLike; channel: DataChannelLike }>(
  ({ input: { pc, channel }, sendBack }) => {
    const send = (event: ConnectionEvent) => sendBack(event)
    const removers: (() => void)[] = []
    const onPc = <K extends keyof RTCPeerConnectionEventMap>(name: K, listener: (event: RTCPeerConnectionEventMap[K]) => void) => {
      pc.addEventListener(name, listener)
      removers.push(() => pc.removeEventListener(name, listener))
    }
    const onChannel = <K extends keyof RTCDataChannelEventMap>(name: K, listener: (event: RTCDataChannelEventMap[K]) => void) => {
      channel.addEventListener(name, listener)
      removers.push(() => channel.removeEventListener(name, listener))
    }
    onPc('negotiationneeded', () => send({ type: 'pc.negotiationNeeded' }))
    // toJSON() carries usernameFragment, which lets the receiver tell an
    // old ICE generation's candidates from the current one's.
    onPc('icecandidate', ({ candidate }) => send({ type: 'pc.iceCandidate', candidate: candidate ? candidate.toJSON() : null }))
    onPc('connectionstatechange', () => send({ type: 'pc.connectionState', state: pc.connectionState }))
    onPc('signalingstatechange', () => send({ type: 'pc.signalingState', state: pc.signalingState }))
    onPc('track', ({ track, streams }) => send({ type: 'pc.track', track, streamId: streams[0]?.id ?? null }))
    onChannel('open', () => send({ type: 'channel.open' }))
    onChannel('close', () => send({ type: 'channel.close' }))
    onChannel('message', ({ data }) => send({ type: 'channel.message', data }))
    // The channel may have opened before the listeners were attached.
    if (channel.readyState === 'open') send({ type: 'channel.open' })
    return () => {
      for (const remove of removers) remove()
      channel.close()
      pc.close()
    }
  },
)

/**
 * `operation`, or a rejection once `signal` aborts (the actor stopped).
 * An operation on a connection closed under it may never settle (libwebrtc
 * in Node leaves some pending for good), and whatever waits on it would
 * keep the stopped actor, its machine and its connection alive: a leak per
 * leave, found by the churn test.
 */
function untilStopped<T>(operation: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise<T>((resolve, reject) => {
    const box: Settle<T> = { resolve, reject }
    signal.addEventListener(
      'abort',
      () => {
        box.resolve = null
        box.reject = null
        reject(signal.reason)
      },
      { once: true },
    )
    forward(operation, box)
  })
}

type Settle<T> = { resolve: ((value: T) => void) | null; reject: ((error: unknown) => void) | null }

/**
 * Settles `box` with `operation`. A function of its own, so that the
 * callbacks the operation keeps hold the box alone: not the signal, whose
 * abort reason carries a stack that reaches the actor.
 */
function forward<T>(operation: Promise<T>, box: Settle<T>): void {
  operation.then(
    (value) => box.resolve?.(value),
    (error: unknown) => box.reject?.(error),
  )
}

/** `setLocalDescription()` with no argument: the offer or answer the state calls for. */
export const setLocalDescription = fromPromise<RTCSessionDescriptionInit | null, { pc: PeerConnectionLike }>(
  async ({ input: { pc }, signal }) => {
    await untilStopped(pc.setLocalDescription(), signal)
    return pc.localDescription ? { type: pc.localDescription.type, sdp: pc.localDescription.sdp } : null
  },
)

/** `setRemoteDescription()`; an offer in have-local-offer rolls back implicitly. */
export const setRemoteDescription = fromPromise<void, { pc: PeerConnectionLike; description: RTCSessionDescriptionInit }>(
  async ({ input: { pc, description }, signal }) => {
    await untilStopped(pc.setRemoteDescription(description), signal)
  },
)

/** Work on the connection whose result only matters if it fails. */
export type ConnectionTask =
  | { type: 'task.addCandidate'; candidate: RTCIceCandidateInit | null; ignoringOffer: boolean }
  | { type: 'task.replaceTrack'; sender: RtpSenderLike; track: MediaStreamTrackLike | null }
  | { type: 'task.encode'; sender: RtpSenderLike; encoding: VideoEncoding }
  /** Rolls back a remote offer that could not be answered. */
  | { type: 'task.rollback' }
  /** Reads from the stats whether the selected candidate pair goes through a relay. */
  | { type: 'task.readRoute' }

export type TaskResult =
  | { type: 'task.failed'; task: ConnectionTask['type']; name: string; message: string }
  | { type: 'task.ignored'; task: ConnectionTask['type']; message: string }
  | { type: 'task.encoded'; encoding: VideoEncoding }
  /** The selected pair has a relay candidate on either side; null when no pair is selected (or no stats). */
  | { type: 'task.route'; relayed: boolean | null }

/** How many more times, and how far apart, the route is read while the stats name no selected pair. */
const ROUTE_READS = 10
const ROUTE_RETRY_MS = 250

/**
 * Runs fire-and-forget operations (candidates, replaceTrack, setParameters)
 * and reports failures back as events.
 */
export const connectionTasks = fromCallback<ConnectionTask, { pc: PeerConnectionLike }>(({ input: { pc }, receive, sendBack }) => {
  // Results go through a box that the cleanup empties, never through a
  // closure over sendBack: an operation on a closed connection may never
  // settle (see untilStopped), and its callback would keep the stopped
  // actor alive.
  const out: { send: ((result: TaskResult) => void) | null } = { send: sendBack }
  const send = (result: TaskResult) => out.send?.(result)
  const report = (task: ConnectionTask['type'], error: unknown) => ({
    name: error instanceof Error || isNamed(error) ? error.name : 'Error',
    message: error instanceof Error || isNamed(error) ? error.message : String(error),
    task,
  })
  receive((task) => {
    switch (task.type) {
      case 'task.addCandidate':
        // A null candidate is the end of candidates for the current generation.
        pc.addIceCandidate(task.candidate ?? undefined).catch((error: unknown) => {
          // webrtc-pc perfect negotiation: candidates of an offer we ignored
          // fail to apply, and that is expected.
          if (task.ignoringOffer) send({ type: 'task.ignored', ...report(task.type, error) } satisfies TaskResult)
          else send({ type: 'task.failed', ...report(task.type, error) } satisfies TaskResult)
        })
        return
      case 'task.replaceTrack':
        task.sender.replaceTrack(task.track).catch((error: unknown) => {
          send({ type: 'task.failed', ...report(task.type, error) } satisfies TaskResult)
        })
        return
      case 'task.rollback':
        if (pc.signalingState !== 'have-remote-offer') return
        pc.setLocalDescription({ type: 'rollback' }).catch((error: unknown) => {
          send({ type: 'task.failed', ...report(task.type, error) } satisfies TaskResult)
        })
        return
      case 'task.readRoute': {
        // The stats may name the selected pair a moment after "connected":
        // read again, a few times, until they do.
        const read = (left: number) => {
          if (out.send === null) return
          pc.getStats().then(
            (report) => {
              const pair = pairSummary(toSnapshot(report, Date.now()))
              if (pair)
                send({ type: 'task.route', relayed: pair.localType === 'relay' || pair.remoteType === 'relay' } satisfies TaskResult)
              else if (left > 0 && pc.connectionState !== 'closed') setTimeout(() => read(left - 1), ROUTE_RETRY_MS)
              else send({ type: 'task.route', relayed: null } satisfies TaskResult)
            },
            () => send({ type: 'task.route', relayed: null } satisfies TaskResult),
          )
        }
        read(ROUTE_READS)
        return
      }
      case 'task.encode': {
        const parameters = task.sender.getParameters()
        if (!parameters.encodings || parameters.encodings.length === 0) return
        for (const encoding of parameters.encodings) {
          encoding.maxBitrate = task.encoding.maxBitrate
          encoding.scaleResolutionDownBy = task.encoding.scaleResolutionDownBy
          encoding.active = task.encoding.active ?? true
        }
        task.sender.setParameters(parameters).then(
          () => send({ type: 'task.encoded', encoding: task.encoding } satisfies TaskResult),
          (error: unknown) => send({ type: 'task.failed', ...report(task.type, error) } satisfies TaskResult),
        )
        return
      }
    }
  })
  return () => {
    out.send = null
  }
})

function isNamed(error: unknown): error is { name: string; message: string } {
  return typeof error === 'object' && error !== null && 'name' in error && 'message' in error
}
