/** RTP senders, receivers and transceivers. */
import type { MediaStreamLike, MediaStreamTrackLike, StatsReportLike } from '../../../machines/webrtc'
import type { SimulatedMediaStreamTrack } from './media'
import type { SimulatedPeerConnection } from './peerConnection'
import type { Direction } from './sdp'

/** An RTCRtpSender: its track, msid streams, and the setParameters transaction rules. */
export class SimulatedRtpSender {
  track: MediaStreamTrackLike | null
  readonly transport = null
  readonly dtmf = null
  /** Stream ids signalled in msid. */
  streamIds: string[]
  /** The id signalled in msid for this sender. */
  readonly msidTrackId: string
  private encodings: RTCRtpEncodingParameters[] = [{ active: true }]
  private transactionId: string | null = null
  private transactions = 0
  transceiver!: SimulatedRtpTransceiver

  constructor(
    private pc: SimulatedPeerConnection,
    track: MediaStreamTrackLike | null,
    streamIds: string[],
    msidTrackId: string,
  ) {
    this.track = track
    this.streamIds = streamIds
    this.msidTrackId = msidTrackId
  }

  replaceTrack(track: MediaStreamTrackLike | null): Promise<void> {
    if (track && track.kind !== this.transceiver.kind) {
      return Promise.reject(new TypeError(`replaceTrack: a ${track.kind} track on a ${this.transceiver.kind} sender`))
    }
    return this.pc.chain(() => {
      if (this.transceiver.stopping) throw new DOMException('The transceiver is stopped', 'InvalidStateError')
      this.track = track
    })
  }

  setStreams(...streams: MediaStreamLike[]): void {
    if (this.pc.closed) throw new DOMException('The connection is closed', 'InvalidStateError')
    this.streamIds = [...new Set(streams.map((s) => s.id))]
    this.pc.updateNegotiationNeeded()
  }

  getParameters(): RTCRtpSendParameters {
    this.transactionId = `tx${++this.transactions}`
    return {
      transactionId: this.transactionId,
      encodings: this.encodings.map((e) => ({ ...e })),
      codecs: [],
      headerExtensions: [],
      rtcp: { cname: this.msidTrackId, reducedSize: true },
    }
  }

  async setParameters(parameters: RTCRtpSendParameters): Promise<void> {
    await Promise.resolve()
    if (this.transceiver.stopping) throw new DOMException('The transceiver is stopped', 'InvalidStateError')
    if (parameters.transactionId !== this.transactionId) {
      throw new DOMException('setParameters: stale or missing transactionId', 'InvalidModificationError')
    }
    if (parameters.encodings.length !== this.encodings.length) {
      throw new DOMException('setParameters: the number of encodings changed', 'InvalidModificationError')
    }
    for (const encoding of parameters.encodings) {
      if (encoding.scaleResolutionDownBy !== undefined && encoding.scaleResolutionDownBy < 1) {
        throw new RangeError('scaleResolutionDownBy must be at least 1')
      }
      if (this.transceiver.kind === 'audio' && encoding.scaleResolutionDownBy !== undefined) {
        throw new DOMException('scaleResolutionDownBy on an audio sender', 'InvalidModificationError')
      }
    }
    this.encodings = parameters.encodings.map((e) => ({ ...e }))
    this.transactionId = null
  }

  async getStats(): Promise<StatsReportLike> {
    return this.pc.getStats()
  }
}

/** An RTCRtpReceiver: the remote track, muted until the remote sends. */
export class SimulatedRtpReceiver {
  readonly track: SimulatedMediaStreamTrack
  readonly transport = null
  constructor(track: SimulatedMediaStreamTrack) {
    this.track = track
  }
  getParameters(): RTCRtpReceiveParameters {
    return { codecs: [], headerExtensions: [], rtcp: {} }
  }
  getContributingSources(): RTCRtpContributingSource[] {
    return []
  }
  getSynchronizationSources(): RTCRtpSynchronizationSource[] {
    return []
  }
  async getStats(): Promise<StatsReportLike> {
    return new Map()
  }
}

/** An RTCRtpTransceiver, with the bookkeeping webrtc-pc keeps for it ([[FiredDirection]] and co). */
export class SimulatedRtpTransceiver {
  mid: string | null = null
  currentDirection: RTCRtpTransceiverDirection | null = null
  stopping = false
  /** Whether currentDirection was ever sendrecv or sendonly. */
  everSent = false
  /** The direction last processed from a remote description ([[FiredDirection]]). */
  firedDirection: Direction = 'inactive'
  /** Remote stream ids from the msid of the last remote description. */
  remoteStreamIds: string[] = []
  private _direction: Direction
  readonly created: number

  constructor(
    private pc: SimulatedPeerConnection,
    readonly kind: 'audio' | 'video',
    direction: Direction,
    readonly sender: SimulatedRtpSender,
    readonly receiver: SimulatedRtpReceiver,
    readonly createdBy: 'addTrack' | 'addTransceiver' | 'remote',
    created: number,
  ) {
    this._direction = direction
    this.created = created
    sender.transceiver = this
  }

  get direction(): RTCRtpTransceiverDirection {
    return this.stopping ? 'stopped' : this._direction
  }
  set direction(value: RTCRtpTransceiverDirection) {
    if (this.pc.closed || this.stopping) throw new DOMException('The transceiver is stopped', 'InvalidStateError')
    if (value === 'stopped') throw new TypeError('direction cannot be set to stopped')
    if (value === this._direction) return
    this._direction = value
    this.pc.updateNegotiationNeeded()
  }
  /** The direction without the `stopped` pseudo-direction. */
  get wanted(): Direction {
    return this._direction
  }
  setWanted(value: Direction): void {
    this._direction = value
  }

  get stopped(): boolean {
    return this.stopping
  }

  stop(): void {
    if (this.pc.closed) throw new DOMException('The connection is closed', 'InvalidStateError')
    if (this.stopping) return
    this.stopping = true
    this.sender.track = null
    this.pc.receiverGone(this)
    this.pc.updateNegotiationNeeded()
  }

  setCodecPreferences(): void {}
}
