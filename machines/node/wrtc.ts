/**
 * {@link WebRTCImpl} for Node: libwebrtc through `@roamhq/wrtc`, with the
 * webrtc-pc behaviour the machines rely on added on top, and synthetic
 * cameras, microphones and screens instead of devices.
 *
 * @example
 * ```ts
 * const webrtc = nodeWebRTC({ width: 640, height: 360, label: 'alice' })
 * const stream = await webrtc.getUserMedia({ audio: true, video: true })
 * const pc = new webrtc.RTCPeerConnection()
 * for (const track of stream.getTracks()) pc.addTrack(track, stream)
 * await pc.setLocalDescription() // makes the offer, as in a browser
 * // ... and when the call is over:
 * pc.close()
 * for (const track of stream.getTracks()) track.stop()
 * ```
 */
import wrtc from '@roamhq/wrtc'
import { WebSocket } from 'ws'
import type { WebRTCImpl } from '../webrtc'
import { watchNetwork } from './network'
import { syntheticMedia, type SyntheticMediaOptions } from './syntheticMedia'

/** Options of {@link nodeWebRTC}: what its synthetic devices produce. */
export type NodeWebRTCOptions = SyntheticMediaOptions

/**
 * A {@link WebRTCImpl} with every optional member present. Its objects are
 * wrtc's, which declare the whole DOM interfaces, so tests can reach what
 * the machines do not use (`getSenders()`, `iceConnectionState`, ...).
 */
export type NodeWebRTC = {
  RTCPeerConnection: new (configuration?: RTCConfiguration) => RTCPeerConnection
  MediaStream: new (tracks?: MediaStreamTrack[]) => MediaStream
  getUserMedia(constraints: MediaStreamConstraints): Promise<MediaStream>
  getDisplayMedia(options?: DisplayMediaStreamOptions): Promise<MediaStream>
  enumerateDevices(): Promise<MediaDeviceInfo[]>
  WebSocket: typeof WebSocket
  watchNetwork(onChange: (what: string) => void): () => void
}

/**
 * Builds the Node runtime for the machines: the shimmed connection below,
 * and the devices of {@link syntheticMedia}.
 *
 * Process lifetime, measured with @roamhq/wrtc 0.10.0: a live wrtc track holds
 * the process open by itself, so stop every track (or call
 * `stopAllSynthetic` from `./syntheticMedia`); and once a track has existed,
 * a natural exit crashes in the binding's teardown (SIGSEGV), so scripts
 * should end with `process.exit()`. Vitest workers are unaffected.
 */
export function nodeWebRTC(options: NodeWebRTCOptions = {}): NodeWebRTC {
  return {
    RTCPeerConnection: NodeRTCPeerConnection,
    MediaStream: wrtc.MediaStream,
    WebSocket,
    watchNetwork,
    ...syntheticMedia(options),
  } satisfies WebRTCImpl
}

/**
 * wrtc's RTCPeerConnection with the webrtc-pc behaviour it lacks (section
 * names from webrtc-pc):
 * - One operations chain ("chain an operation") runs `createOffer`,
 *   `createAnswer`, `setLocalDescription`, `setRemoteDescription` and
 *   `addIceCandidate` in call order. Each shimmed call is several native
 *   calls, and the chain keeps them atomic; the state checks happen when the
 *   operation runs, not when it is called.
 * - `setLocalDescription()` without a description creates one.
 * - `setRemoteDescription(offer)` in `have-local-offer` rolls back first.
 * - `addIceCandidate()` checks the remote description, mid and ufrag.
 * - `negotiationneeded` fires only with the chain empty and the state stable
 *   ("update the negotiation-needed flag").
 * - `sender.setParameters` works (see {@link restoreDroppedFields}).
 * - The six description attributes are kept here, in JavaScript (see
 *   {@link Descriptions}), never read from the binding.
 */
class NodeRTCPeerConnection extends wrtc.RTCPeerConnection {
  #tail: Promise<void> = Promise.resolve()
  #operations = 0
  #negotiationNeededHeld: Event | undefined
  #descriptions = new Descriptions()

  constructor(configuration?: RTCConfiguration) {
    super(configuration)
    // The binding defines these on the instance (made configurable by
    // patches/@roamhq+wrtc+*.patch), so they are replaced on the instance.
    const descriptions = this.#descriptions
    const attributes: Record<DescriptionAttribute, () => RTCSessionDescription | null> = {
      localDescription: () => descriptions.pendingLocal ?? descriptions.currentLocal,
      currentLocalDescription: () => descriptions.currentLocal,
      pendingLocalDescription: () => descriptions.pendingLocal,
      remoteDescription: () => descriptions.pendingRemote ?? descriptions.currentRemote,
      currentRemoteDescription: () => descriptions.currentRemote,
      pendingRemoteDescription: () => descriptions.pendingRemote,
    }
    for (const [name, get] of Object.entries(attributes)) {
      Object.defineProperty(this, name, { get, enumerable: true, configurable: true })
    }
  }

  override createOffer(options?: RTCOfferOptions): Promise<RTCSessionDescriptionInit>
  /** @deprecated The legacy callback form, kept because the DOM type declares it. */
  override createOffer(
    successCallback: RTCSessionDescriptionCallback,
    failureCallback: RTCPeerConnectionErrorCallback,
    options?: RTCOfferOptions,
  ): Promise<void>
  override createOffer(
    first?: RTCOfferOptions | RTCSessionDescriptionCallback,
    failureCallback?: RTCPeerConnectionErrorCallback,
    options?: RTCOfferOptions,
  ): Promise<RTCSessionDescriptionInit | void> {
    if (!isCallback(first)) return this.#chain(() => super.createOffer(first))
    return this.#chain(() => super.createOffer(options)).then(first, failureCallback)
  }

  override createAnswer(options?: RTCAnswerOptions): Promise<RTCSessionDescriptionInit>
  /** @deprecated The legacy callback form, kept because the DOM type declares it. */
  override createAnswer(successCallback: RTCSessionDescriptionCallback, failureCallback: RTCPeerConnectionErrorCallback): Promise<void>
  override createAnswer(
    first?: RTCAnswerOptions | RTCSessionDescriptionCallback,
    failureCallback?: RTCPeerConnectionErrorCallback,
  ): Promise<RTCSessionDescriptionInit | void> {
    if (!isCallback(first)) return this.#chain(() => super.createAnswer(first))
    return this.#chain(() => super.createAnswer()).then(first, failureCallback)
  }

  override setLocalDescription(description?: RTCLocalSessionDescriptionInit): Promise<void> {
    return this.#chain(async () => {
      // The binding rejects a missing description ("Expected an object");
      // webrtc-pc creates the offer or answer the signaling state calls for.
      const type = description?.type ?? impliedLocalType(this.signalingState)
      let sdp = description?.sdp ?? ''
      if (type !== 'rollback' && !sdp) {
        sdp = (type === 'offer' ? await super.createOffer() : await super.createAnswer()).sdp ?? ''
      }
      await super.setLocalDescription({ type, sdp })
      this.#descriptions.set('local', type, sdp)
    })
  }

  override setRemoteDescription(description: RTCSessionDescriptionInit): Promise<void> {
    return this.#chain(async () => {
      // libwebrtc rejects a remote offer in have-local-offer ("Called in wrong
      // state") where the spec rolls the local offer back first. Other
      // invalid states (have-local-pranswer) are left to libwebrtc to reject.
      if (description.type === 'offer' && this.signalingState === 'have-local-offer') {
        await super.setLocalDescription({ type: 'rollback' })
        this.#descriptions.set('local', 'rollback', '')
      }
      await super.setRemoteDescription(description)
      this.#descriptions.set('remote', description.type, description.sdp ?? '')
    })
  }

  override addIceCandidate(candidate?: RTCIceCandidateInit | null): Promise<void> {
    if (candidate?.candidate && candidate.sdpMid == null && candidate.sdpMLineIndex == null) {
      return Promise.reject(new TypeError('addIceCandidate: the candidate needs sdpMid or sdpMLineIndex'))
    }
    return this.#chain(() => {
      // The binding rejects these two cases with a plain Error ("Failed to
      // set ICE candidate."); webrtc-pc names them.
      const remote = this.remoteDescription
      if (remote === null) {
        throw new DOMException('addIceCandidate: no remote description', 'InvalidStateError')
      }
      const targeted = candidate?.sdpMid != null || candidate?.sdpMLineIndex != null
      if (targeted && sectionsFor(remote.sdp, candidate).length === 0) {
        throw new DOMException('addIceCandidate: the candidate matches no media description', 'OperationError')
      }
      // webrtc-pc rejects a ufrag that no applied remote description has,
      // such as one from before an ICE restart. libwebrtc (so Chrome too)
      // resolves instead: it takes an unknown ufrag for a future ICE
      // generation (P2PTransportChannel::GetRemoteCandidateGeneration).
      const ufrag = candidate?.usernameFragment
      const applied = [this.currentRemoteDescription, this.pendingRemoteDescription]
      const known = applied.some((description) => sectionsFor(description?.sdp ?? '', candidate).some((section) => section.ufrag === ufrag))
      if (ufrag != null && !known) {
        throw new DOMException(`addIceCandidate: ufrag ${ufrag} matches no remote description`, 'OperationError')
      }
      return super.addIceCandidate(candidate && withoutNulls(candidate))
    })
  }

  override addTrack(track: MediaStreamTrack, ...streams: MediaStream[]): RTCRtpSender {
    return this.#adopt(super.addTrack(track, ...streams))
  }

  override addTransceiver(trackOrKind: MediaStreamTrack | string, init?: RTCRtpTransceiverInit): RTCRtpTransceiver {
    const transceiver = super.addTransceiver(trackOrKind, init)
    this.#adopt(transceiver.sender)
    return transceiver
  }

  override getSenders(): RTCRtpSender[] {
    return super.getSenders().map((sender) => this.#adopt(sender))
  }

  override getTransceivers(): RTCRtpTransceiver[] {
    const transceivers = super.getTransceivers()
    for (const transceiver of transceivers) this.#adopt(transceiver.sender)
    return transceivers
  }

  /** The binding delivers every event through here. */
  override dispatchEvent(event: Event): boolean {
    if (event.type === 'negotiationneeded') {
      this.#scheduleNegotiationNeeded(event)
      return true
    }
    if (event.type === 'track' && 'transceiver' in event && event.transceiver instanceof wrtc.RTCRtpTransceiver) {
      this.#adopt(event.transceiver.sender)
    }
    return super.dispatchEvent(event)
  }

  #chain<T>(operation: () => T | Promise<T>): Promise<T> {
    if (this.signalingState === 'closed') {
      return Promise.reject(new DOMException('The RTCPeerConnection is closed', 'InvalidStateError'))
    }
    this.#operations += 1
    // Checked again when the operation's turn comes ("chain an operation"):
    // libwebrtc never settles an operation started on a closed connection,
    // and that promise, a global handle in the binding, would keep this
    // connection (and every SDP it held) reachable for good.
    const result = this.#tail.then(() => {
      if (this.signalingState === 'closed') throw new DOMException('The RTCPeerConnection is closed', 'InvalidStateError')
      return operation()
    })
    const done = () => this.#operationDone()
    this.#tail = result.then(done, done)
    return result
  }

  #operationDone(): void {
    this.#operations -= 1
    if (this.#operations === 0 && this.#negotiationNeededHeld) {
      const event = this.#negotiationNeededHeld
      this.#negotiationNeededHeld = undefined
      this.#scheduleNegotiationNeeded(event)
    }
  }

  /**
   * libwebrtc posts `negotiationneeded` without re-checking when it reaches
   * JS, and its own operations chain empties between the native calls of one
   * shimmed operation. So the check of "update the negotiation-needed flag"
   * runs here, in a task just before the listeners: with operations pending
   * the event waits for the chain to empty; outside `stable` it is dropped,
   * because libwebrtc fires again on returning to `stable` if negotiation is
   * still needed ("set the RTCSessionDescription": "true both before and
   * after this update").
   */
  #scheduleNegotiationNeeded(event: Event): void {
    process.nextTick(() => {
      if (this.#operations > 0) this.#negotiationNeededHeld = event
      else if (this.signalingState === 'stable') super.dispatchEvent(event)
    })
  }

  #adopt(sender: RTCRtpSender): RTCRtpSender {
    if (adoptedSenders.has(sender)) return sender
    adoptedSenders.add(sender)
    const nativeSetParameters = sender.setParameters.bind(sender)
    const setParameters: RTCRtpSender['setParameters'] = (parameters, setParameterOptions) =>
      nativeSetParameters(restoreDroppedFields(parameters, this.#ssrcOf(sender)), setParameterOptions)
    // The binding's methods are read-only, so shadow rather than assign.
    Object.defineProperty(sender, 'setParameters', { value: setParameters, configurable: true })
    return sender
  }

  #ssrcOf(sender: RTCRtpSender): number | undefined {
    const mid = super.getTransceivers().find((transceiver) => transceiver.sender === sender)?.mid
    const sdp = this.localDescription?.sdp
    if (mid == null || sdp === undefined) return undefined
    return mediaSections(sdp).find((section) => section.mid === mid)?.ssrc
  }
}

const adoptedSenders = new WeakSet<RTCRtpSender>()

type DescriptionAttribute =
  | 'localDescription'
  | 'currentLocalDescription'
  | 'pendingLocalDescription'
  | 'remoteDescription'
  | 'currentRemoteDescription'
  | 'pendingRemoteDescription'

/**
 * A connection's four descriptions, updated as webrtc-pc's "set the
 * RTCSessionDescription" does when a set*Description call succeeds.
 *
 * The binding's description getters are not safe to call: each one takes a
 * raw pointer to libwebrtc's description and serializes it on the JS thread,
 * while the signaling thread may replace it (a set*Description completing) or
 * add a gathered candidate to it. That use-after-free crashed test workers
 * (SIGSEGV in `webrtc::SdpSerialize` under `RTCPeerConnection::GetLocalDescription`,
 * taken from a core dump; node-webrtc issue #696). So the descriptions are
 * the ones this shim passed to libwebrtc, in its own operations chain. They
 * differ from libwebrtc's in one way: gathered candidates are not added to
 * the local description, as they are trickled anyway.
 */
class Descriptions {
  pendingLocal: RTCSessionDescription | null = null
  currentLocal: RTCSessionDescription | null = null
  pendingRemote: RTCSessionDescription | null = null
  currentRemote: RTCSessionDescription | null = null

  set(side: 'local' | 'remote', type: RTCSdpType, sdp: string): void {
    const [pending, current, otherPending, otherCurrent] =
      side === 'local'
        ? (['pendingLocal', 'currentLocal', 'pendingRemote', 'currentRemote'] as const)
        : (['pendingRemote', 'currentRemote', 'pendingLocal', 'currentLocal'] as const)
    if (type === 'rollback') {
      // Either side's rollback ends the exchange in progress.
      this[pending] = null
      this[otherPending] = null
    } else if (type === 'offer' || type === 'pranswer') {
      this[pending] = new wrtc.RTCSessionDescription({ type, sdp })
    } else {
      // An answer ends the exchange: it and the offer it answers become current.
      this[current] = new wrtc.RTCSessionDescription({ type, sdp })
      this[otherCurrent] = this[otherPending]
      this[pending] = null
      this[otherPending] = null
    }
  }
}

type EncodingWithSsrc = RTCRtpEncodingParameters & { ssrc?: number }

/**
 * The binding converts parameters lossily both ways, so setParameters with
 * unchanged getParameters() output always fails:
 * - getParameters drops `encodings[].ssrc`; libwebrtc then sees a changed
 *   SSRC (InvalidModificationError "modified SSRC").
 * - getParameters writes `sdpFmtpLine` as `a=fmtp:111 minptime=10; useinbandfec=1`,
 *   while setParameters expects the SDP form `minptime=10;useinbandfec=1`
 *   (it splits on `;` and `=` without trimming), so its codec list differs
 *   from the negotiated one; once negotiated, libwebrtc rejects that with an
 *   empty message (InvalidStateError for video, from its INTERNAL_ERROR;
 *   InvalidModificationError for audio).
 * This puts back the SSRC the sender has in the local description and writes
 * `sdpFmtpLine` in the SDP form the parser expects; what the caller changed
 * is untouched. With several encodings (simulcast) it cannot tell which SSRC
 * belongs to which, so those calls reach libwebrtc unchanged and are rejected.
 */
function restoreDroppedFields(parameters: RTCRtpSendParameters, ssrc: number | undefined): RTCRtpSendParameters {
  const single = ssrc !== undefined && parameters.encodings.length === 1
  const encodings: EncodingWithSsrc[] = single ? [{ ...parameters.encodings[0], ssrc }] : parameters.encodings
  const codecs = parameters.codecs.map((codec) =>
    codec.sdpFmtpLine === undefined
      ? codec
      : { ...codec, sdpFmtpLine: codec.sdpFmtpLine.replace(/^a=fmtp:\d+ /, '').replace(/;\s+/g, ';') },
  )
  return { ...parameters, codecs, encodings }
}

/**
 * The binding rejects a null `sdpMid` ("Failed to set ICE candidate") and a
 * null `sdpMLineIndex` ("Expected a 32-bit integer"), which webrtc-pc allows;
 * it takes them absent.
 */
function withoutNulls({ candidate, sdpMid, sdpMLineIndex, usernameFragment }: RTCIceCandidateInit): RTCIceCandidateInit {
  return {
    candidate,
    ...(sdpMid != null && { sdpMid }),
    ...(sdpMLineIndex != null && { sdpMLineIndex }),
    ...(usernameFragment != null && { usernameFragment }),
  }
}

function isCallback(value: object | undefined): value is RTCSessionDescriptionCallback {
  return typeof value === 'function'
}

function impliedLocalType(state: RTCSignalingState): RTCSdpType {
  // webrtc-pc, setLocalDescription(): the type implied by the signaling state.
  return state === 'have-remote-offer' || state === 'have-local-pranswer' ? 'answer' : 'offer'
}

type MediaSection = { mid: string | undefined; ufrag: string | undefined; ssrc: number | undefined }

function mediaSections(sdp: string): MediaSection[] {
  const [session, ...media] = sdp.split(/\r?\n(?=m=)/)
  const sessionUfrag = attribute(session, 'ice-ufrag')
  return media.map((section) => {
    const ssrc = /^a=ssrc-group:FID (\d+)/m.exec(section)?.[1] ?? /^a=ssrc:(\d+)/m.exec(section)?.[1]
    return {
      mid: attribute(section, 'mid'),
      ufrag: attribute(section, 'ice-ufrag') ?? sessionUfrag,
      ssrc: ssrc === undefined ? undefined : Number(ssrc),
    }
  })
}

/** The media sections a candidate applies to: the one it names, or all. */
function sectionsFor(sdp: string, candidate: RTCIceCandidateInit | null | undefined): MediaSection[] {
  const sections = mediaSections(sdp)
  if (candidate?.sdpMid != null) return sections.filter((section) => section.mid === candidate.sdpMid)
  if (candidate?.sdpMLineIndex != null) return sections.slice(candidate.sdpMLineIndex, candidate.sdpMLineIndex + 1)
  return sections
}

function attribute(section: string, name: string): string | undefined {
  return new RegExp(`^a=${name}:(\\S+)`, 'm').exec(section)?.[1]
}
