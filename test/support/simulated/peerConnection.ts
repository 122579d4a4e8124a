/**
 * The simulated RTCPeerConnection. Its API methods check their arguments
 * and state as webrtc-pc does and run on the operations chain; what they do
 * lives beside it, one concern per module: creating offers and answers
 * (`offerAnswer.ts`), applying descriptions and rollback
 * (`descriptions.ts`), receivers and remote streams (`remoteTracks.ts`),
 * the negotiation-needed check (`negotiationNeeded.ts`), ICE (`ice.ts`),
 * data channels (`dataChannel.ts`) and stats (`stats.ts`).
 */
import type { MediaStreamLike, MediaStreamTrackLike, RtpSenderLike } from '../../../machines/webrtc'
import { SimulatedDataChannel } from './dataChannel'
import {
  applyLocalAnswer,
  applyLocalOffer,
  applyRemoteAnswer,
  applyRemoteOffer,
  assertSameMLines,
  rollback,
  type Undo,
} from './descriptions'
import { defineHandlers, SimEventTarget, type Handler } from './eventTarget'
import { gatherIfReady, newIceState } from './ice'
import { IceCredentials } from './iceCredentials'
import { SimulatedMediaStreamTrack, type SimulatedMediaStream } from './media'
import { isNegotiationNeeded } from './negotiationNeeded'
import type { Network } from './network'
import { writeAnswer, writeOffer } from './offerAnswer'
import { OperationsChain } from './operationsChain'
import { receiverGone } from './remoteTracks'
import { SimulatedRtpReceiver, SimulatedRtpSender, SimulatedRtpTransceiver } from './rtp'
import { parseSdp, SimSessionDescription, type Direction } from './sdp'
import { statsReport } from './stats'

/** An RTCPeerConnection on a simulated {@link Network}, owned by the endpoint `label`. */
export class SimulatedPeerConnection extends SimEventTarget {
  readonly net: Network
  readonly label: string
  readonly id: string
  readonly fingerprint: string
  readonly configuration: RTCConfiguration

  signalingState: RTCSignalingState = 'stable'
  iceConnectionState: RTCIceConnectionState = 'new'
  iceGatheringState: RTCIceGatheringState = 'new'
  readonly canTrickleIceCandidates = true

  currentLocalDescription: SimSessionDescription | null = null
  pendingLocalDescription: SimSessionDescription | null = null
  currentRemoteDescription: SimSessionDescription | null = null
  pendingRemoteDescription: SimSessionDescription | null = null

  closed = false

  // The state below is the connection's internals, shared with the helper
  // modules beside this one; tests read the connection through its API.
  transceivers: SimulatedRtpTransceiver[] = []
  readonly channels: SimulatedDataChannel[] = []
  /** Creation order of the data section among transceivers (for m-line order). */
  dataCreated: number | null = null
  dataMid: string | null = null
  /** What the pending description changed, for rollback. */
  undo: Undo | null = null
  readonly remoteStreams = new Map<string, SimulatedMediaStream>()
  readonly credentials: IceCredentials
  readonly ice = newIceState()

  private created = 0
  private version = 0
  private lastOffer: string | null = null
  private lastAnswer: string | null = null
  private negotiationNeeded = false
  private updateOnEmptyChain = false
  private readonly operations = new OperationsChain({
    closed: () => this.closed,
    onEmpty: () => {
      if (!this.updateOnEmptyChain) return
      this.updateOnEmptyChain = false
      this.updateNegotiationNeeded()
    },
  })

  constructor(net: Network, label: string, configuration: RTCConfiguration = {}) {
    super()
    this.net = net
    this.label = label
    this.configuration = configuration
    this.id = net.nextId('pc')
    this.fingerprint = `sha-256 SIM:${this.id.toUpperCase()}`
    this.credentials = new IceCredentials(() => {
      const n = net.nextId('ice').slice(3)
      return { ufrag: `${this.id}u${n}`, pwd: `pwd${this.id}x${n}simulatedsecret` }
    })
    net.pcs.push(this)
  }

  // --- event handler properties

  declare onnegotiationneeded: Handler
  declare onicecandidate: Handler
  declare onicecandidateerror: Handler
  declare onconnectionstatechange: Handler
  declare oniceconnectionstatechange: Handler
  declare onicegatheringstatechange: Handler
  declare onsignalingstatechange: Handler
  declare ontrack: Handler
  declare ondatachannel: Handler
  static {
    defineHandlers(this.prototype, [
      'negotiationneeded',
      'icecandidate',
      'icecandidateerror',
      'connectionstatechange',
      'iceconnectionstatechange',
      'icegatheringstatechange',
      'signalingstatechange',
      'track',
      'datachannel',
    ])
  }

  // --- descriptions

  get localDescription(): SimSessionDescription | null {
    return this.pendingLocalDescription ?? this.currentLocalDescription
  }
  get remoteDescription(): SimSessionDescription | null {
    return this.pendingRemoteDescription ?? this.currentRemoteDescription
  }

  get connectionState(): RTCPeerConnectionState {
    switch (this.iceConnectionState) {
      case 'checking':
        return 'connecting'
      case 'completed':
        return 'connected'
      default:
        return this.iceConnectionState
    }
  }

  getConfiguration(): RTCConfiguration {
    return { ...this.configuration }
  }
  setConfiguration(configuration: RTCConfiguration): void {
    if (this.closed) throw new DOMException('The connection is closed', 'InvalidStateError')
    Object.assign(this.configuration, configuration)
  }

  /** Runs `run` on the operations chain; its checks happen when it runs. */
  chain<T>(run: () => T): Promise<T> {
    if (this.closed) return Promise.reject(new DOMException('The RTCPeerConnection is closed', 'InvalidStateError'))
    return this.operations.enqueue(run)
  }

  createOffer(): Promise<RTCSessionDescriptionInit> {
    return this.chain(() => {
      this.assertOpen()
      const sdp = this.makeOffer()
      return { type: 'offer' as const, sdp }
    })
  }

  createAnswer(): Promise<RTCSessionDescriptionInit> {
    return this.chain(() => {
      this.assertOpen()
      if (this.signalingState !== 'have-remote-offer' && this.signalingState !== 'have-local-pranswer') {
        throw new DOMException(`createAnswer in state ${this.signalingState}`, 'InvalidStateError')
      }
      return { type: 'answer' as const, sdp: this.makeAnswer() }
    })
  }

  setLocalDescription(description?: RTCLocalSessionDescriptionInit): Promise<void> {
    return this.chain(() => {
      this.assertOpen()
      const type = description?.type
      if (type === 'rollback') {
        rollback(this)
        return
      }
      const state = this.signalingState
      const wantOffer =
        type === 'offer' || (type === undefined && (state === 'stable' || state === 'have-local-offer' || state === 'have-remote-pranswer'))
      if (wantOffer) {
        if (state !== 'stable' && state !== 'have-local-offer') {
          throw new DOMException(`setLocalDescription(offer) in state ${state}`, 'InvalidStateError')
        }
        const sdp = description?.sdp || (type === undefined ? this.makeOffer() : (this.lastOffer ?? this.makeOffer()))
        if (sdp !== this.lastOffer) {
          throw new DOMException('The offer is not the last one created', 'InvalidModificationError')
        }
        applyLocalOffer(this, sdp)
        return
      }
      if (state !== 'have-remote-offer') {
        throw new DOMException(`setLocalDescription(${type ?? 'answer'}) in state ${state}`, 'InvalidStateError')
      }
      const sdp = description?.sdp || (type === undefined ? this.makeAnswer() : (this.lastAnswer ?? this.makeAnswer()))
      if (sdp !== this.lastAnswer) {
        throw new DOMException('The answer is not the last one created', 'InvalidModificationError')
      }
      applyLocalAnswer(this, sdp)
    })
  }

  setRemoteDescription(description: RTCSessionDescriptionInit): Promise<void> {
    return this.chain(() => {
      this.assertOpen()
      const { type } = description
      if (type === 'rollback') {
        rollback(this)
        return
      }
      if (type !== 'offer' && type !== 'answer') {
        throw new TypeError(`setRemoteDescription: unsupported type ${String(type)}`)
      }
      const state = this.signalingState
      if (type === 'answer' && state !== 'have-local-offer') {
        throw new DOMException(`Failed to set remote answer sdp: Called in wrong state: ${state}`, 'InvalidStateError')
      }
      if (type === 'offer' && state !== 'stable' && state !== 'have-local-offer' && state !== 'have-remote-offer') {
        throw new DOMException(`Failed to set remote offer sdp: Called in wrong state: ${state}`, 'InvalidStateError')
      }
      const parsed = parseSdp(description.sdp ?? '')
      assertSameMLines(this, parsed)
      if (type === 'offer') {
        if (state === 'have-local-offer') rollback(this)
        applyRemoteOffer(this, new SimSessionDescription('offer', description.sdp ?? '', parsed))
      } else {
        applyRemoteAnswer(this, new SimSessionDescription('answer', description.sdp ?? '', parsed))
      }
    })
  }

  addIceCandidate(candidate?: RTCIceCandidateInit | null): Promise<void> {
    if (candidate && candidate.candidate && candidate.sdpMid == null && candidate.sdpMLineIndex == null) {
      return Promise.reject(new TypeError('addIceCandidate: sdpMid and sdpMLineIndex are both null'))
    }
    return this.chain(() => {
      this.assertOpen()
      const remote = this.remoteDescription
      if (!remote) throw new DOMException('addIceCandidate: no remote description', 'InvalidStateError')
      if (!candidate || !candidate.candidate) return // end of candidates
      const sections = remote.parsed.sections
      if (candidate.sdpMid != null && !sections.some((s) => s.mid === candidate.sdpMid)) {
        throw new DOMException(`addIceCandidate: no m-line with mid ${candidate.sdpMid}`, 'OperationError')
      }
      if (candidate.sdpMid == null && candidate.sdpMLineIndex != null && candidate.sdpMLineIndex >= sections.length) {
        throw new DOMException('addIceCandidate: sdpMLineIndex out of range', 'OperationError')
      }
      const ufrags = [this.currentRemoteDescription, this.pendingRemoteDescription].flatMap((d) => (d ? [d.parsed.ufrag] : []))
      const ufrag = candidate.usernameFragment ?? remote.parsed.ufrag
      if (!ufrags.includes(ufrag)) {
        throw new DOMException(`addIceCandidate: unknown ufrag ${ufrag}`, 'OperationError')
      }
      this.ice.receivedUfrags.add(ufrag)
      this.net.scheduleCheck()
    })
  }

  restartIce(): void {
    if (this.closed) return
    const local = this.localDescription
    // Nothing to replace before the first description.
    if (!local) return
    this.credentials.restartFrom(local.parsed.ufrag)
    this.updateNegotiationNeeded()
  }

  // --- tracks and transceivers

  getTransceivers(): SimulatedRtpTransceiver[] {
    return [...this.transceivers]
  }
  getSenders(): SimulatedRtpSender[] {
    return this.transceivers.filter((t) => !t.stopped).map((t) => t.sender)
  }
  getReceivers(): SimulatedRtpReceiver[] {
    return this.transceivers.filter((t) => !t.stopped).map((t) => t.receiver)
  }

  addTrack(track: MediaStreamTrackLike, ...streams: MediaStreamLike[]): SimulatedRtpSender {
    this.assertOpen()
    if (this.transceivers.some((t) => t.sender.track === track)) {
      throw new DOMException('A sender already exists for the track', 'InvalidAccessError')
    }
    const streamIds = [...new Set(streams.map((s) => s.id))]
    const reusable = this.transceivers.find((t) => t.kind === track.kind && !t.stopping && t.sender.track === null && !t.everSent)
    if (reusable) {
      reusable.sender.track = track
      reusable.sender.streamIds = streamIds
      const wanted = reusable.wanted
      if (wanted === 'recvonly') reusable.setWanted('sendrecv')
      else if (wanted === 'inactive') reusable.setWanted('sendonly')
      this.updateNegotiationNeeded()
      return reusable.sender
    }
    const kind = track.kind === 'audio' ? 'audio' : 'video'
    const transceiver = this.newTransceiver(kind, 'sendrecv', track, streamIds, 'addTrack')
    this.updateNegotiationNeeded()
    return transceiver.sender
  }

  removeTrack(sender: RtpSenderLike): void {
    this.assertOpen()
    const transceiver = this.transceivers.find((t) => t.sender === sender)
    if (!transceiver) throw new DOMException('The sender was not created by this connection', 'InvalidAccessError')
    if (transceiver.stopping || sender.track === null) return
    transceiver.sender.track = null
    const wanted = transceiver.wanted
    if (wanted === 'sendrecv') transceiver.setWanted('recvonly')
    else if (wanted === 'sendonly') transceiver.setWanted('inactive')
    this.updateNegotiationNeeded()
  }

  addTransceiver(trackOrKind: MediaStreamTrackLike | string, init: RTCRtpTransceiverInit = {}): SimulatedRtpTransceiver {
    this.assertOpen()
    const kind = typeof trackOrKind === 'string' ? trackOrKind : trackOrKind.kind
    if (kind !== 'audio' && kind !== 'video') throw new TypeError(`addTransceiver: unknown kind ${kind}`)
    const track = typeof trackOrKind === 'string' ? null : trackOrKind
    const dir = init.direction ?? 'sendrecv'
    if (dir === 'stopped') throw new TypeError('addTransceiver: direction stopped')
    const streamIds = [...new Set((init.streams ?? []).map((s) => s.id))]
    const transceiver = this.newTransceiver(kind, dir, track, streamIds, 'addTransceiver')
    this.updateNegotiationNeeded()
    return transceiver
  }

  /** A new transceiver, last in creation order. */
  newTransceiver(
    kind: 'audio' | 'video',
    dir: Direction,
    track: MediaStreamTrackLike | null,
    streamIds: string[],
    createdBy: SimulatedRtpTransceiver['createdBy'],
  ): SimulatedRtpTransceiver {
    const sender = new SimulatedRtpSender(this, track, streamIds, this.net.nextId(`${this.id}-sender-`))
    const receiverTrack = new SimulatedMediaStreamTrack(this.net, kind, `remote ${kind}`)
    receiverTrack.muted = true
    const receiver = new SimulatedRtpReceiver(receiverTrack)
    const transceiver = new SimulatedRtpTransceiver(this, kind, dir, sender, receiver, createdBy, this.created++)
    this.transceivers.push(transceiver)
    return transceiver
  }

  createDataChannel(label: string, init: RTCDataChannelInit = {}): SimulatedDataChannel {
    this.assertOpen()
    if (init.negotiated && (init.id === undefined || init.id === null)) {
      throw new TypeError('createDataChannel: a negotiated channel needs an id')
    }
    if (init.id !== undefined && this.channels.some((c) => c.id === init.id && c.readyState !== 'closed')) {
      throw new DOMException(`createDataChannel: id ${init.id} is in use`, 'OperationError')
    }
    const channel = new SimulatedDataChannel(this, label, init)
    const first = this.dataCreated === null
    if (first) this.dataCreated = this.created++
    this.channels.push(channel)
    if (first) this.updateNegotiationNeeded()
    this.net.scheduleCheck()
    return channel
  }

  // --- stats and close

  async getStats(): Promise<Map<string, Record<string, unknown>>> {
    return statsReport(this)
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    this.operations.rejectAll(() => new DOMException('The RTCPeerConnection was closed', 'InvalidStateError'))
    this.signalingState = 'closed'
    for (const transceiver of this.transceivers) {
      transceiver.stopping = true
      transceiver.currentDirection = 'stopped'
      transceiver.receiver.track.readyState = 'ended'
    }
    for (const channel of this.channels) {
      const peer = channel.peer
      channel.closed(false)
      peer?.remoteClosed()
    }
    this.iceConnectionState = 'closed'
    this.fire('connectionstatechange')
    // The other side notices: its path goes quiet.
    for (const pc of this.net.pcs) {
      if (pc !== this && !pc.closed && pc.counterpart() === this && pc.iceConnectionState === 'connected') {
        pc.setIceState('disconnected')
      }
    }
  }

  // --- for the helpers: descriptions

  /** The next session version (o= line). */
  nextVersion(): number {
    return ++this.version
  }

  setSignalingState(state: RTCSignalingState): void {
    if (this.signalingState === state) return
    this.signalingState = state
    this.fire('signalingstatechange')
  }

  /** The remote stopped sending on `t`. */
  receiverGone(t: SimulatedRtpTransceiver): void {
    receiverGone(this, t)
  }

  /** A description became current: a restart it carried is done. */
  restartApplied(): void {
    const local = this.currentLocalDescription
    if (local) this.credentials.applied(local.parsed.ufrag)
  }

  gatherIfReady(): void {
    gatherIfReady(this)
  }

  private assertOpen(): void {
    if (this.closed) throw new DOMException('The RTCPeerConnection is closed', 'InvalidStateError')
  }

  private makeOffer(): string {
    this.lastOffer = writeOffer(this)
    return this.lastOffer
  }

  private makeAnswer(): string {
    this.lastAnswer = writeAnswer(this)
    return this.lastAnswer
  }

  // --- negotiation-needed

  returnedToStable(): void {
    // Re-evaluated on the way back to stable: fires again if still needed.
    this.negotiationNeeded = false
    this.updateNegotiationNeeded()
  }

  updateNegotiationNeeded(): void {
    if (this.closed) return
    if (this.operations.busy) {
      this.updateOnEmptyChain = true
      return
    }
    this.net.queueTask(() => {
      if (this.closed) return
      if (this.operations.busy) {
        this.updateOnEmptyChain = true
        return
      }
      if (this.signalingState !== 'stable') return
      if (!this.isNegotiationNeeded()) {
        this.negotiationNeeded = false
        return
      }
      if (this.negotiationNeeded) return
      this.negotiationNeeded = true
      this.fire('negotiationneeded')
    })
  }

  /** webrtc-pc "check if negotiation is needed", against the current descriptions. */
  isNegotiationNeeded(): boolean {
    return isNegotiationNeeded(this)
  }

  // --- ICE

  /** The connection this one's remote description came from. */
  counterpart(): SimulatedPeerConnection | undefined {
    const remote = this.remoteDescription
    return remote ? this.net.byFingerprint(remote.parsed.fingerprint) : undefined
  }

  setIceState(state: RTCIceConnectionState): void {
    if (this.closed || this.iceConnectionState === state) return
    const before = this.connectionState
    this.iceConnectionState = state
    if (state === 'failed') this.ice.failedUfrag = this.localDescription?.parsed.ufrag ?? null
    if (state === 'connected') this.ice.failedUfrag = null
    this.fire('iceconnectionstatechange')
    if (this.connectionState !== before) this.fire('connectionstatechange')
    this.net.scheduleCheck()
  }
}
