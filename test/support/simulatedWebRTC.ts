/**
 * A fast, deterministic simulated WebRTC for tests.
 *
 * No real timers: work that the webrtc-pc spec runs "in a queued task" goes on
 * the network's task queue, which a microtask pump drains once the current
 * microtasks have had a few turns; network events that take time (ICE
 * `disconnected` → `failed`) wait for an explicit {@link SimulatedNetwork.advance}.
 * Every id comes from a per-network counter, so a schedule replays exactly.
 *
 * What is modelled (what the peer machine relies on):
 * - signaling states, `setLocalDescription()` without argument, rollback,
 *   implicit rollback, and one operations chain per connection;
 * - the negotiation-needed flag and event as webrtc-pc specifies them;
 * - a small SDP dialect (m-lines with mid, kind, direction, msid, ICE
 *   credentials, fingerprint, setup) that round-trips through JSON;
 * - transceivers, senders, receivers, `track` events and remote streams;
 * - ICE: one host candidate per generation, ufrag checks in
 *   `addIceCandidate`, connectivity between labels that can be partitioned;
 * - data channels (negotiated and in-band), getUserMedia & co, getStats.
 */
import type { WebRTCImpl } from '../../machines/webrtc'

// ---------------------------------------------------------------------------
// Network

export type DeviceMode = 'all' | 'none' | 'denied'

export type SimulatedNetwork = {
  /** The WebRTC implementation of one endpoint; its connections belong to `label`. */
  webrtc(label: string, options?: { devices?: DeviceMode }): WebRTCImpl
  /** ICE between labels `a` and `b` breaks: connected pcs go `disconnected` now, `failed` at the next advance(). */
  partition(a: string, b: string): void
  heal(a: string, b: string): void
  /** Runs the scheduled network events (disconnected → failed, …), then settles. */
  advance(): Promise<void>
  /** Runs microtasks and queued tasks until nothing is pending. */
  settle(): Promise<void>
  /** Every connection created on this network (or by one label), in creation order. */
  connections(label?: string): SimulatedPeerConnection[]
}

/** How many microtask turns the pump lets pass before running a queued task. */
const TURNS_PER_TASK = 4
/** settle() gives up after this many rounds (a livelock is a bug in the test). */
const MAX_SETTLE_ROUNDS = 100_000

class Network {
  private counters = new Map<string, number>()
  readonly pcs: SimulatedPeerConnection[] = []
  private partitions = new Set<string>()
  private tasks: (() => void)[] = []
  private pumping = false
  private checkQueued = false

  nextId(prefix: string): string {
    const n = (this.counters.get(prefix) ?? 0) + 1
    this.counters.set(prefix, n)
    return `${prefix}${n}`
  }

  /** Queues a task: it runs after the microtasks pending now have drained. */
  queueTask(task: () => void): void {
    this.tasks.push(task)
    if (!this.pumping) {
      this.pumping = true
      void this.pump()
    }
  }

  private async pump(): Promise<void> {
    while (this.tasks.length > 0) {
      for (let i = 0; i < TURNS_PER_TASK; i++) await Promise.resolve()
      const task = this.tasks.shift()
      task?.()
    }
    this.pumping = false
  }

  async settle(): Promise<void> {
    let idle = 0
    for (let round = 0; round < MAX_SETTLE_ROUNDS; round++) {
      for (let i = 0; i < TURNS_PER_TASK; i++) await Promise.resolve()
      if (this.tasks.length === 0 && !this.pumping) {
        if (++idle >= 3) return
      } else {
        idle = 0
      }
    }
    throw new Error('simulated network did not settle')
  }

  private key(a: string, b: string): string {
    return a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`
  }

  isPartitioned(a: string, b: string): boolean {
    return this.partitions.has(this.key(a, b))
  }

  partition(a: string, b: string): void {
    this.partitions.add(this.key(a, b))
    for (const pc of this.pcs) {
      const peer = pc.counterpart()
      if (!peer || !this.isPartitioned(pc.label, peer.label)) continue
      if (pc.iceConnectionState === 'connected') pc.setIceState('disconnected')
    }
  }

  heal(a: string, b: string): void {
    this.partitions.delete(this.key(a, b))
    this.scheduleCheck()
  }

  /** Network time passes: what is cut off for a while fails. */
  async advance(): Promise<void> {
    await this.settle()
    for (const pc of this.pcs) {
      if (pc.closed) continue
      const state = pc.iceConnectionState
      if (state === 'disconnected') {
        pc.setIceState('failed')
        continue
      }
      if (state === 'checking') {
        const peer = pc.counterpart()
        if (peer && (peer.closed || this.isPartitioned(pc.label, peer.label))) pc.setIceState('failed')
      }
    }
    this.scheduleCheck()
    await this.settle()
  }

  /** Queues one connectivity check over every connection. */
  scheduleCheck(): void {
    if (this.checkQueued) return
    this.checkQueued = true
    this.queueTask(() => {
      this.checkQueued = false
      for (const pc of this.pcs) pc.checkConnectivity()
      for (const pc of this.pcs) pc.checkChannels()
    })
  }

  byFingerprint(fingerprint: string): SimulatedPeerConnection | undefined {
    return this.pcs.find((pc) => pc.fingerprint === fingerprint)
  }
}

export function createSimulatedNetwork(): SimulatedNetwork {
  const net = new Network()
  return {
    webrtc: (label, options) => createImpl(net, label, options?.devices ?? 'all'),
    partition: (a, b) => net.partition(a, b),
    heal: (a, b) => net.heal(a, b),
    advance: () => net.advance(),
    settle: () => net.settle(),
    connections: (label) => net.pcs.filter((pc) => label === undefined || pc.label === label),
  }
}

/** The RTCPeerConnection class bound to a network and a label. */
export type SimulatedPeerConnectionClass = new (configuration?: RTCConfiguration) => SimulatedPeerConnection

function createImpl(net: Network, label: string, devices: DeviceMode): WebRTCImpl {
  class PeerConnection extends SimulatedPeerConnection {
    constructor(configuration?: RTCConfiguration) {
      super(net, label, configuration)
    }
  }
  class Stream extends SimulatedMediaStream {
    constructor(tracks?: MediaStreamTrack[] | MediaStream) {
      super(net, tracks)
    }
  }
  const deviceError = (): DOMException | null =>
    devices === 'none'
      ? new DOMException('Requested device not found', 'NotFoundError')
      : devices === 'denied'
        ? new DOMException('Permission denied', 'NotAllowedError')
        : null
  const impl = {
    RTCPeerConnection: PeerConnection,
    MediaStream: Stream,
    async getUserMedia(constraints: MediaStreamConstraints): Promise<MediaStream> {
      if (!constraints.audio && !constraints.video) {
        throw new TypeError('getUserMedia: at least one of audio and video is required')
      }
      const error = deviceError()
      if (error) throw error
      const tracks: SimulatedMediaStreamTrack[] = []
      if (constraints.audio) tracks.push(new SimulatedMediaStreamTrack(net, 'audio', 'Simulated microphone'))
      if (constraints.video) tracks.push(new SimulatedMediaStreamTrack(net, 'video', 'Simulated camera'))
      return asMediaStream(new Stream(tracks.map(asTrack)))
    },
    async getDisplayMedia(): Promise<MediaStream> {
      if (devices === 'denied') throw new DOMException('Permission denied', 'NotAllowedError')
      const track = new SimulatedMediaStreamTrack(net, 'video', 'Simulated screen')
      track.contentHint = 'detail'
      return asMediaStream(new Stream([asTrack(track)]))
    },
    async enumerateDevices(): Promise<MediaDeviceInfo[]> {
      if (devices === 'none') return []
      const named = devices === 'all'
      const info = (kind: MediaDeviceKind, n: string, name: string) => ({
        deviceId: named ? `${kind}-${n}` : '',
        groupId: named ? `group-${n}` : '',
        kind,
        label: named ? name : '',
        toJSON() {
          return { deviceId: this.deviceId, groupId: this.groupId, kind: this.kind, label: this.label }
        },
      })
      return [
        info('audioinput', '1', 'Simulated microphone'),
        info('videoinput', '1', 'Simulated camera'),
        info('audiooutput', '1', 'Simulated speaker'),
      ]
    },
  }
  // The simulated classes implement what the machines use of the DOM
  // interfaces, not every member of them: the one unchecked step is here.
  return impl as unknown as WebRTCImpl
}

/** The DOM view of a simulated track (structurally a subset). */
function asTrack(track: SimulatedMediaStreamTrack): MediaStreamTrack {
  return track as unknown as MediaStreamTrack
}
function asMediaStream(stream: SimulatedMediaStream): MediaStream {
  return stream as unknown as MediaStream
}

// ---------------------------------------------------------------------------
// Events

type Handler = ((event: Event) => unknown) | null

/** An EventTarget with `on<name>` handler properties. */
class SimEventTarget extends EventTarget {
  private handlers = new Map<string, { handler: Handler; listener: (event: Event) => void }>()

  protected getHandler(name: string): Handler {
    return this.handlers.get(name)?.handler ?? null
  }

  protected setHandler(name: string, handler: Handler): void {
    const old = this.handlers.get(name)
    if (old) this.removeEventListener(name, old.listener)
    this.handlers.delete(name)
    if (typeof handler !== 'function') return
    const listener = (event: Event) => {
      handler.call(this, event)
    }
    this.handlers.set(name, { handler, listener })
    this.addEventListener(name, listener)
  }

  protected fire(name: string, extra?: Record<string, unknown>): void {
    const event = new Event(name)
    if (extra) Object.assign(event, extra)
    this.dispatchEvent(event)
  }
}

// ---------------------------------------------------------------------------
// Media

export class SimulatedMediaStreamTrack extends SimEventTarget {
  readonly id: string
  readonly kind: 'audio' | 'video'
  label: string
  enabled = true
  muted = false
  readyState: MediaStreamTrackState = 'live'
  contentHint = ''

  constructor(net: { nextId(prefix: string): string }, kind: 'audio' | 'video', label = '') {
    super()
    this.id = net.nextId(`track-${kind}-`)
    this.kind = kind
    this.label = label
  }

  get onended() { return this.getHandler('ended') }
  set onended(h: Handler) { this.setHandler('ended', h) }
  get onmute() { return this.getHandler('mute') }
  set onmute(h: Handler) { this.setHandler('mute', h) }
  get onunmute() { return this.getHandler('unmute') }
  set onunmute(h: Handler) { this.setHandler('unmute', h) }

  /** Stops the track; per spec no `ended` event fires. */
  stop(): void {
    this.readyState = 'ended'
  }

  /** Test hook: the source ends on its own (device unplugged, screen share stopped): fires `ended`. */
  end(): void {
    if (this.readyState === 'ended') return
    this.readyState = 'ended'
    this.fire('ended')
  }

  /** Test hook, and what a receiver does when the remote stops or resumes sending. */
  setMuted(muted: boolean): void {
    if (this.muted === muted || this.readyState === 'ended') return
    this.muted = muted
    this.fire(muted ? 'mute' : 'unmute')
  }

  clone(): SimulatedMediaStreamTrack {
    const copy = new SimulatedMediaStreamTrack({ nextId: (p) => `${this.id}-clone-${p}` }, this.kind, this.label)
    copy.enabled = this.enabled
    return copy
  }

  getSettings(): MediaTrackSettings {
    return this.kind === 'video'
      ? { deviceId: `${this.kind}-1`, width: 640, height: 480, frameRate: 30 }
      : { deviceId: `${this.kind}-1`, sampleRate: 48000, channelCount: 1 }
  }
  getConstraints(): MediaTrackConstraints {
    return {}
  }
  getCapabilities(): MediaTrackCapabilities {
    return {}
  }
  async applyConstraints(): Promise<void> {}
}

export class SimulatedMediaStream extends SimEventTarget {
  readonly id: string
  private tracks: MediaStreamTrack[] = []

  constructor(net: { nextId(prefix: string): string }, tracks?: MediaStreamTrack[] | MediaStream, id?: string) {
    super()
    this.id = id ?? net.nextId('stream-')
    const initial = tracks === undefined ? [] : Array.isArray(tracks) ? tracks : tracks.getTracks()
    for (const track of initial) if (!this.tracks.includes(track)) this.tracks.push(track)
  }

  get active(): boolean {
    return this.tracks.some((t) => t.readyState === 'live')
  }
  get onaddtrack() { return this.getHandler('addtrack') }
  set onaddtrack(h: Handler) { this.setHandler('addtrack', h) }
  get onremovetrack() { return this.getHandler('removetrack') }
  set onremovetrack(h: Handler) { this.setHandler('removetrack', h) }

  getTracks(): MediaStreamTrack[] {
    return [...this.tracks]
  }
  getAudioTracks(): MediaStreamTrack[] {
    return this.tracks.filter((t) => t.kind === 'audio')
  }
  getVideoTracks(): MediaStreamTrack[] {
    return this.tracks.filter((t) => t.kind === 'video')
  }
  getTrackById(id: string): MediaStreamTrack | null {
    return this.tracks.find((t) => t.id === id) ?? null
  }
  addTrack(track: MediaStreamTrack): void {
    if (!this.tracks.includes(track)) this.tracks.push(track)
  }
  removeTrack(track: MediaStreamTrack): void {
    this.tracks = this.tracks.filter((t) => t !== track)
  }
  clone(): SimulatedMediaStream {
    return new SimulatedMediaStream({ nextId: (p) => `${this.id}-clone-${p}` }, this.tracks)
  }

  /** The user agent adds a remote track: fires `addtrack`. */
  uaAddTrack(track: MediaStreamTrack): void {
    if (this.tracks.includes(track)) return
    this.tracks.push(track)
    this.fire('addtrack', { track })
  }
  /** The user agent removes a remote track: fires `removetrack`. */
  uaRemoveTrack(track: MediaStreamTrack): void {
    if (!this.tracks.includes(track)) return
    this.removeTrack(track)
    this.fire('removetrack', { track })
  }
}

// ---------------------------------------------------------------------------
// SDP

type Direction = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive'
type SectionKind = 'audio' | 'video' | 'application'

export type MediaSection = {
  mid: string
  kind: SectionKind
  direction: Direction
  /** Rejected (port 0). */
  rejected: boolean
  msids: { stream: string; track: string }[]
}

export type ParsedSdp = {
  session: string
  version: number
  ufrag: string
  pwd: string
  fingerprint: string
  setup: string
  sections: MediaSection[]
}

export function writeSdp(sdp: ParsedSdp): string {
  const lines = [
    'v=0',
    `o=- ${sdp.session} ${sdp.version} IN IP4 127.0.0.1`,
    's=-',
    't=0 0',
    `a=group:BUNDLE ${sdp.sections.filter((s) => !s.rejected).map((s) => s.mid).join(' ')}`,
    `a=ice-ufrag:${sdp.ufrag}`,
    `a=ice-pwd:${sdp.pwd}`,
    `a=fingerprint:${sdp.fingerprint}`,
  ]
  for (const section of sdp.sections) {
    const port = section.rejected ? 0 : 9
    lines.push(
      section.kind === 'application'
        ? `m=application ${port} UDP/DTLS/SCTP webrtc-datachannel`
        : `m=${section.kind} ${port} UDP/TLS/RTP/SAVPF ${section.kind === 'audio' ? 111 : 96}`,
      'c=IN IP4 0.0.0.0',
      `a=ice-ufrag:${sdp.ufrag}`,
      `a=ice-pwd:${sdp.pwd}`,
      `a=fingerprint:${sdp.fingerprint}`,
      `a=setup:${sdp.setup}`,
      `a=mid:${section.mid}`,
    )
    if (section.kind !== 'application') {
      lines.push(`a=${section.direction}`)
      for (const msid of section.msids) lines.push(`a=msid:${msid.stream} ${msid.track}`)
      lines.push('a=rtcp-mux')
    } else {
      lines.push('a=sctp-port:5000')
    }
  }
  return lines.join('\r\n') + '\r\n'
}

function invalid(message: string): never {
  throw new DOMException(message, 'OperationError')
}

export function parseSdp(text: string): ParsedSdp {
  const lines = text.split(/\r?\n/).filter((l) => l.length > 0)
  const origin = lines.find((l) => l.startsWith('o='))
  if (!origin || lines[0] !== 'v=0') invalid('Failed to parse SessionDescription: not a simulated SDP')
  const [, session = '', version = '0'] = origin.slice(2).split(' ')
  const result: ParsedSdp = { session, version: Number(version), ufrag: '', pwd: '', fingerprint: '', setup: '', sections: [] }
  let current: MediaSection | null = null
  for (const line of lines) {
    if (line.startsWith('m=')) {
      const [kind, port] = line.slice(2).split(' ')
      if (kind !== 'audio' && kind !== 'video' && kind !== 'application') invalid(`unknown media kind ${kind}`)
      current = { mid: '', kind, direction: kind === 'application' ? 'sendrecv' : 'sendrecv', rejected: port === '0', msids: [] }
      result.sections.push(current)
      continue
    }
    if (!line.startsWith('a=')) continue
    const colon = line.indexOf(':')
    const name = colon < 0 ? line.slice(2) : line.slice(2, colon)
    const value = colon < 0 ? '' : line.slice(colon + 1)
    switch (name) {
      case 'ice-ufrag':
        result.ufrag = value
        break
      case 'ice-pwd':
        result.pwd = value
        break
      case 'fingerprint':
        result.fingerprint = value
        break
      case 'setup':
        result.setup = value
        break
      case 'mid':
        if (current) current.mid = value
        break
      case 'sendrecv':
      case 'sendonly':
      case 'recvonly':
      case 'inactive':
        if (current) current.direction = name
        break
      case 'msid': {
        const [stream = '-', track = ''] = value.split(' ')
        if (current) current.msids.push({ stream, track })
        break
      }
    }
  }
  if (!result.ufrag || !result.pwd) invalid('Failed to parse SessionDescription: missing ICE credentials')
  if (!result.fingerprint) invalid('Failed to parse SessionDescription: missing fingerprint')
  for (const s of result.sections) if (!s.mid) invalid('Failed to parse SessionDescription: m-line without mid')
  return result
}

const sends = (d: Direction | null) => d === 'sendrecv' || d === 'sendonly'
const receives = (d: Direction | null) => d === 'sendrecv' || d === 'recvonly'
const direction = (send: boolean, recv: boolean): Direction =>
  send ? (recv ? 'sendrecv' : 'sendonly') : recv ? 'recvonly' : 'inactive'
const reverse = (d: Direction): Direction => direction(receives(d), sends(d))
/** Our direction in an answer: what we want, intersected with the offer reversed. */
const intersect = (ours: Direction, offered: Direction): Direction =>
  direction(sends(ours) && receives(offered), receives(ours) && sends(offered))

class SimSessionDescription {
  readonly type: RTCSdpType
  readonly sdp: string
  readonly parsed: ParsedSdp
  constructor(type: RTCSdpType, sdp: string, parsed: ParsedSdp) {
    this.type = type
    this.sdp = sdp
    this.parsed = parsed
  }
  toJSON(): RTCSessionDescriptionInit {
    return { type: this.type, sdp: this.sdp }
  }
}

// ---------------------------------------------------------------------------
// ICE candidates

export class SimulatedIceCandidate {
  readonly candidate: string
  readonly sdpMid: string | null
  readonly sdpMLineIndex: number | null
  readonly usernameFragment: string | null
  readonly component = 'rtp'
  readonly protocol = 'udp'
  readonly type = 'host'
  constructor(init: RTCIceCandidateInit) {
    this.candidate = init.candidate ?? ''
    this.sdpMid = init.sdpMid ?? null
    this.sdpMLineIndex = init.sdpMLineIndex ?? null
    this.usernameFragment = init.usernameFragment ?? null
  }
  toJSON(): RTCIceCandidateInit {
    return {
      candidate: this.candidate,
      sdpMid: this.sdpMid,
      sdpMLineIndex: this.sdpMLineIndex,
      usernameFragment: this.usernameFragment,
    }
  }
}

// ---------------------------------------------------------------------------
// RTP

export class SimulatedRtpSender {
  track: MediaStreamTrack | null
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

  constructor(private pc: SimulatedPeerConnection, track: MediaStreamTrack | null, streamIds: string[], msidTrackId: string) {
    this.track = track
    this.streamIds = streamIds
    this.msidTrackId = msidTrackId
  }

  replaceTrack(track: MediaStreamTrack | null): Promise<void> {
    if (track && track.kind !== this.transceiver.kind) {
      return Promise.reject(new TypeError(`replaceTrack: a ${track.kind} track on a ${this.transceiver.kind} sender`))
    }
    return this.pc.chain(() => {
      if (this.transceiver.stopping) throw new DOMException('The transceiver is stopped', 'InvalidStateError')
      this.track = track
    })
  }

  setStreams(...streams: MediaStream[]): void {
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

  async getStats(): Promise<RTCStatsReport> {
    return this.pc.getStats()
  }
}

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
  async getStats(): Promise<RTCStatsReport> {
    return new Map()
  }
}

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

// ---------------------------------------------------------------------------
// Data channels

export class SimulatedDataChannel extends SimEventTarget {
  readonly label: string
  readonly ordered: boolean
  readonly negotiated: boolean
  readonly protocol: string
  readonly maxRetransmits: number | null
  readonly maxPacketLifeTime: number | null
  id: number | null
  readyState: RTCDataChannelState = 'connecting'
  binaryType: BinaryType = 'arraybuffer'
  bufferedAmount = 0
  bufferedAmountLowThreshold = 0
  /** The channel on the other connection, once open. */
  peer: SimulatedDataChannel | null = null
  /** In-band channels: announced to the remote side. */
  announced = false

  constructor(private pc: SimulatedPeerConnection, label: string, init: RTCDataChannelInit) {
    super()
    this.label = label
    this.ordered = init.ordered ?? true
    this.negotiated = init.negotiated ?? false
    this.protocol = init.protocol ?? ''
    this.maxRetransmits = init.maxRetransmits ?? null
    this.maxPacketLifeTime = init.maxPacketLifeTime ?? null
    this.id = init.id ?? null
  }

  get onopen() { return this.getHandler('open') }
  set onopen(h: Handler) { this.setHandler('open', h) }
  get onclose() { return this.getHandler('close') }
  set onclose(h: Handler) { this.setHandler('close', h) }
  get onclosing() { return this.getHandler('closing') }
  set onclosing(h: Handler) { this.setHandler('closing', h) }
  get onmessage() { return this.getHandler('message') }
  set onmessage(h: Handler) { this.setHandler('message', h) }
  get onerror() { return this.getHandler('error') }
  set onerror(h: Handler) { this.setHandler('error', h) }
  get onbufferedamountlow() { return this.getHandler('bufferedamountlow') }
  set onbufferedamountlow(h: Handler) { this.setHandler('bufferedamountlow', h) }

  send(data: string | ArrayBuffer | ArrayBufferView | Blob): void {
    if (this.readyState !== 'open') throw new DOMException(`RTCDataChannel.readyState is '${this.readyState}'`, 'InvalidStateError')
    const peer = this.peer
    if (!peer) return
    this.pc.net.queueTask(() => {
      // Lost while the path is cut: the simulation does not retransmit.
      if (peer.readyState !== 'open' || this.pc.net.isPartitioned(this.pc.label, peer.pc.label)) return
      peer.dispatchEvent(new MessageEvent('message', { data }))
    })
  }

  open(peer: SimulatedDataChannel): void {
    if (this.readyState !== 'connecting') return
    this.peer = peer
    this.readyState = 'open'
    this.fire('open')
  }

  close(): void {
    if (this.readyState === 'closing' || this.readyState === 'closed') return
    this.readyState = 'closing'
    const peer = this.peer
    this.pc.net.queueTask(() => {
      this.closed(true)
      peer?.remoteClosed()
    })
  }

  /** The other side closed its end. */
  remoteClosed(): void {
    if (this.readyState === 'closed') return
    this.readyState = 'closing'
    this.pc.net.queueTask(() => this.closed(true))
  }

  /** Closed now; `fireEvent` false for pc.close(), which fires no events. */
  closed(fireEvent: boolean): void {
    if (this.readyState === 'closed') return
    this.readyState = 'closed'
    if (fireEvent) this.fire('close')
  }
}

// ---------------------------------------------------------------------------
// The connection

type Credentials = { ufrag: string; pwd: string }
type Operation = { run: () => unknown; resolve: (value: unknown) => void; reject: (error: unknown) => void }

/** What an applied pending description changed, so rollback can undo it. */
type Undo = {
  /** Transceivers this description associated with a mid. */
  associated: SimulatedRtpTransceiver[]
  /** Transceivers this (remote) description created. */
  createdTransceivers: SimulatedRtpTransceiver[]
  /** firedDirection and remote streams before a remote offer. */
  fired: Map<SimulatedRtpTransceiver, { direction: Direction; streams: string[] }>
  dataMid: string | null
}

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
  private transceivers: SimulatedRtpTransceiver[] = []
  private channels: SimulatedDataChannel[] = []
  /** Creation order of the data section among transceivers (for m-line order). */
  private dataCreated: number | null = null
  private dataMid: string | null = null
  private created = 0
  private ops: Operation[] = []
  private negotiationNeeded = false
  private updateOnEmptyChain = false
  private undo: Undo | null = null
  private remoteStreams = new Map<string, SimulatedMediaStream>()

  private version = 0
  private localCreds: Credentials
  /** Credentials for the next offer after restartIce(). */
  private restartCreds: Credentials | null = null
  /** The local ufrag that restartIce() asked to replace ([[LocalIceCredentialsToReplace]]). */
  private iceToReplace: string | null = null
  /** Credentials of our answer to a remote offer that restarted ICE. */
  private answerCreds: { remoteUfrag: string; creds: Credentials } | null = null
  private lastOffer: string | null = null
  private lastAnswer: string | null = null

  /** ufrags of the remote candidates received. */
  private receivedUfrags = new Set<string>()
  /** Local ufrags for which candidates were gathered. */
  private gathered = new Set<string>()
  /** The local ufrag in use when ICE failed; only a new generation recovers. */
  private failedUfrag: string | null = null

  constructor(net: Network, label: string, configuration: RTCConfiguration = {}) {
    super()
    this.net = net
    this.label = label
    this.configuration = configuration
    this.id = net.nextId('pc')
    this.fingerprint = `sha-256 SIM:${this.id.toUpperCase()}`
    this.localCreds = this.newCredentials()
    net.pcs.push(this)
  }

  // --- event handler properties

  get onnegotiationneeded() { return this.getHandler('negotiationneeded') }
  set onnegotiationneeded(h: Handler) { this.setHandler('negotiationneeded', h) }
  get onicecandidate() { return this.getHandler('icecandidate') }
  set onicecandidate(h: Handler) { this.setHandler('icecandidate', h) }
  get onicecandidateerror() { return this.getHandler('icecandidateerror') }
  set onicecandidateerror(h: Handler) { this.setHandler('icecandidateerror', h) }
  get onconnectionstatechange() { return this.getHandler('connectionstatechange') }
  set onconnectionstatechange(h: Handler) { this.setHandler('connectionstatechange', h) }
  get oniceconnectionstatechange() { return this.getHandler('iceconnectionstatechange') }
  set oniceconnectionstatechange(h: Handler) { this.setHandler('iceconnectionstatechange', h) }
  get onicegatheringstatechange() { return this.getHandler('icegatheringstatechange') }
  set onicegatheringstatechange(h: Handler) { this.setHandler('icegatheringstatechange', h) }
  get onsignalingstatechange() { return this.getHandler('signalingstatechange') }
  set onsignalingstatechange(h: Handler) { this.setHandler('signalingstatechange', h) }
  get ontrack() { return this.getHandler('track') }
  set ontrack(h: Handler) { this.setHandler('track', h) }
  get ondatachannel() { return this.getHandler('datachannel') }
  set ondatachannel(h: Handler) { this.setHandler('datachannel', h) }

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

  // --- operations chain

  /** Runs `run` on the operations chain; its checks happen when it runs. */
  chain<T>(run: () => T): Promise<T> {
    if (this.closed) return Promise.reject(new DOMException('The RTCPeerConnection is closed', 'InvalidStateError'))
    return new Promise<T>((resolve, reject) => {
      const op: Operation = { run, resolve: (value) => resolve(value as T), reject }
      this.ops.push(op)
      if (this.ops.length === 1) void this.execute(op)
    })
  }

  private async execute(op: Operation): Promise<void> {
    // The operation works "in parallel": its result arrives a turn later.
    await Promise.resolve()
    if (this.ops[0] !== op) return
    let outcome: { ok: true; value: unknown } | { ok: false; error: unknown }
    try {
      outcome = { ok: true, value: op.run() }
    } catch (error) {
      outcome = { ok: false, error }
    }
    if (this.ops[0] !== op) return // closed meanwhile
    const settled = outcome.ok ? Promise.resolve(outcome.value) : Promise.reject(outcome.error)
    // The chain moves on in a reaction registered before the caller's.
    settled.then(
      () => this.next(),
      () => this.next(),
    )
    if (outcome.ok) op.resolve(outcome.value)
    else op.reject(outcome.error)
  }

  private next(): void {
    if (this.closed) return
    this.ops.shift()
    const op = this.ops[0]
    if (op) {
      void this.execute(op)
      return
    }
    if (!this.updateOnEmptyChain) return
    this.updateOnEmptyChain = false
    this.updateNegotiationNeeded()
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
        this.rollback()
        return
      }
      const state = this.signalingState
      const wantOffer = type === 'offer' || (type === undefined && (state === 'stable' || state === 'have-local-offer' || state === 'have-remote-pranswer'))
      if (wantOffer) {
        if (state !== 'stable' && state !== 'have-local-offer') {
          throw new DOMException(`setLocalDescription(offer) in state ${state}`, 'InvalidStateError')
        }
        const sdp = description?.sdp || (type === undefined ? this.makeOffer() : this.lastOffer ?? this.makeOffer())
        if (sdp !== this.lastOffer) {
          throw new DOMException('The offer is not the last one created', 'InvalidModificationError')
        }
        this.applyLocalOffer(sdp)
        return
      }
      if (state !== 'have-remote-offer') {
        throw new DOMException(`setLocalDescription(${type ?? 'answer'}) in state ${state}`, 'InvalidStateError')
      }
      const sdp = description?.sdp || (type === undefined ? this.makeAnswer() : this.lastAnswer ?? this.makeAnswer())
      if (sdp !== this.lastAnswer) {
        throw new DOMException('The answer is not the last one created', 'InvalidModificationError')
      }
      this.applyLocalAnswer(sdp)
    })
  }

  setRemoteDescription(description: RTCSessionDescriptionInit): Promise<void> {
    return this.chain(() => {
      this.assertOpen()
      const { type } = description
      if (type === 'rollback') {
        this.rollback()
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
      this.assertSameMLines(parsed)
      if (type === 'offer') {
        if (state === 'have-local-offer') this.rollback()
        this.applyRemoteOffer(new SimSessionDescription('offer', description.sdp ?? '', parsed))
      } else {
        this.applyRemoteAnswer(new SimSessionDescription('answer', description.sdp ?? '', parsed))
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
      this.receivedUfrags.add(ufrag)
      this.net.scheduleCheck()
    })
  }

  restartIce(): void {
    if (this.closed) return
    const local = this.localDescription
    // Nothing to replace before the first description.
    if (!local) return
    this.iceToReplace = local.parsed.ufrag
    if (!this.restartCreds || this.restartCreds.ufrag === local.parsed.ufrag) this.restartCreds = this.newCredentials()
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

  addTrack(track: MediaStreamTrack, ...streams: MediaStream[]): SimulatedRtpSender {
    this.assertOpen()
    if (this.transceivers.some((t) => t.sender.track === track)) {
      throw new DOMException('A sender already exists for the track', 'InvalidAccessError')
    }
    const streamIds = [...new Set(streams.map((s) => s.id))]
    const reusable = this.transceivers.find(
      (t) => t.kind === track.kind && !t.stopping && t.sender.track === null && !t.everSent,
    )
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

  removeTrack(sender: RTCRtpSender | SimulatedRtpSender): void {
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

  addTransceiver(trackOrKind: MediaStreamTrack | string, init: RTCRtpTransceiverInit = {}): SimulatedRtpTransceiver {
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

  private newTransceiver(
    kind: 'audio' | 'video',
    dir: Direction,
    track: MediaStreamTrack | null,
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

  async getStats(): Promise<RTCStatsReport> {
    const connected = this.iceConnectionState === 'connected'
    const report = new Map<string, Record<string, unknown>>()
    report.set('T01', {
      id: 'T01',
      type: 'transport',
      timestamp: 0,
      dtlsState: this.closed ? 'closed' : connected ? 'connected' : 'new',
      iceState: this.iceConnectionState,
      selectedCandidatePairId: 'CP01',
    })
    report.set('CP01', {
      id: 'CP01',
      type: 'candidate-pair',
      timestamp: 0,
      transportId: 'T01',
      state: connected ? 'succeeded' : this.iceConnectionState === 'failed' ? 'failed' : 'in-progress',
      nominated: true,
      currentRoundTripTime: 0.001,
      availableOutgoingBitrate: 10_000_000,
    })
    return report as unknown as RTCStatsReport
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    const pending = this.ops.splice(0)
    for (const op of pending) op.reject(new DOMException('The RTCPeerConnection was closed', 'InvalidStateError'))
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

  // --- internals: descriptions

  private assertOpen(): void {
    if (this.closed) throw new DOMException('The RTCPeerConnection is closed', 'InvalidStateError')
  }

  private newCredentials(): Credentials {
    const n = this.net.nextId('ice')
    return { ufrag: `${this.id}u${n.slice(3)}`, pwd: `pwd${this.id}x${n.slice(3)}simulatedsecret` }
  }

  /** Mids already in use in any description or transceiver. */
  private nextMid(taken: Set<string>): string {
    let n = 0
    while (taken.has(String(n))) n++
    taken.add(String(n))
    return String(n)
  }

  private msidsOf(t: SimulatedRtpTransceiver, dir: Direction): MediaSection['msids'] {
    if (!sends(dir)) return []
    const ids = t.sender.streamIds.length > 0 ? t.sender.streamIds : ['-']
    return ids.map((stream) => ({ stream, track: t.sender.msidTrackId }))
  }

  private makeOffer(): string {
    const base = this.currentLocalDescription?.parsed.sections ?? []
    const taken = new Set<string>([
      ...this.transceivers.flatMap((t) => (t.mid ? [t.mid] : [])),
      ...[this.currentLocalDescription, this.currentRemoteDescription, this.pendingRemoteDescription].flatMap((d) =>
        d ? d.parsed.sections.map((s) => s.mid) : [],
      ),
    ])
    if (this.dataMid) taken.add(this.dataMid)
    const sections: MediaSection[] = []
    const placed = new Set<SimulatedRtpTransceiver>()
    let dataPlaced = false
    for (const old of base) {
      if (old.kind === 'application') {
        sections.push({ ...old, msids: [] })
        dataPlaced = true
        continue
      }
      const t = this.transceivers.find((x) => x.mid === old.mid)
      if (!t || t.stopping) {
        sections.push({ mid: old.mid, kind: old.kind, direction: 'inactive', rejected: true, msids: [] })
        continue
      }
      placed.add(t)
      sections.push({ mid: old.mid, kind: t.kind, direction: t.wanted, rejected: false, msids: this.msidsOf(t, t.wanted) })
    }
    type Fresh = { created: number; section: () => MediaSection }
    const fresh: Fresh[] = []
    for (const t of this.transceivers) {
      if (placed.has(t) || t.stopping) continue
      fresh.push({
        created: t.created,
        section: () => ({ mid: t.mid ?? this.nextMid(taken), kind: t.kind, direction: t.wanted, rejected: false, msids: this.msidsOf(t, t.wanted) }),
      })
    }
    if (!dataPlaced && this.dataCreated !== null) {
      fresh.push({
        created: this.dataCreated,
        section: () => ({ mid: this.dataMid ?? this.nextMid(taken), kind: 'application', direction: 'sendrecv', rejected: false, msids: [] }),
      })
    }
    fresh.sort((a, b) => a.created - b.created)
    for (const f of fresh) sections.push(f.section())
    const creds = this.restartCreds ?? this.credentialsOf(this.currentLocalDescription) ?? this.localCreds
    const sdp = writeSdp({
      session: this.id,
      version: ++this.version,
      ufrag: creds.ufrag,
      pwd: creds.pwd,
      fingerprint: this.fingerprint,
      setup: 'actpass',
      sections,
    })
    this.lastOffer = sdp
    return sdp
  }

  private credentialsOf(description: SimSessionDescription | null): Credentials | null {
    return description ? { ufrag: description.parsed.ufrag, pwd: description.parsed.pwd } : null
  }

  private makeAnswer(): string {
    const offer = this.pendingRemoteDescription
    if (!offer) throw new DOMException('createAnswer without a remote offer', 'InvalidStateError')
    const sections: MediaSection[] = offer.parsed.sections.map((remote) => {
      if (remote.kind === 'application') return { mid: remote.mid, kind: 'application', direction: 'sendrecv', rejected: remote.rejected, msids: [] }
      const t = this.transceivers.find((x) => x.mid === remote.mid)
      if (!t || t.stopping || remote.rejected) return { mid: remote.mid, kind: remote.kind, direction: 'inactive', rejected: true, msids: [] }
      const dir = intersect(t.wanted, remote.direction)
      return { mid: remote.mid, kind: t.kind, direction: dir, rejected: false, msids: this.msidsOf(t, dir) }
    })
    const previousRemote = this.currentRemoteDescription?.parsed.ufrag
    const current = this.credentialsOf(this.currentLocalDescription)
    let creds: Credentials
    if (previousRemote !== undefined && previousRemote !== offer.parsed.ufrag) {
      // The remote restarted ICE: so do we.
      if (this.answerCreds?.remoteUfrag !== offer.parsed.ufrag) {
        this.answerCreds = { remoteUfrag: offer.parsed.ufrag, creds: this.restartCreds ?? this.newCredentials() }
      }
      creds = this.answerCreds.creds
    } else {
      creds = current ?? this.localCreds
    }
    const sdp = writeSdp({
      session: this.id,
      version: ++this.version,
      ufrag: creds.ufrag,
      pwd: creds.pwd,
      fingerprint: this.fingerprint,
      setup: 'active',
      sections,
    })
    this.lastAnswer = sdp
    return sdp
  }

  private setSignalingState(state: RTCSignalingState): void {
    if (this.signalingState === state) return
    this.signalingState = state
    this.fire('signalingstatechange')
  }

  private applyLocalOffer(sdp: string): void {
    const description = new SimSessionDescription('offer', sdp, parseSdp(sdp))
    const undo: Undo = this.undo && this.signalingState === 'have-local-offer'
      ? this.undo
      : { associated: [], createdTransceivers: [], fired: new Map(), dataMid: this.dataMid }
    // Associate new m-lines with transceivers in creation order, by kind.
    for (const section of description.parsed.sections) {
      if (section.kind === 'application') {
        this.dataMid = section.mid
        continue
      }
      if (this.transceivers.some((t) => t.mid === section.mid)) continue
      const t = this.transceivers.find((x) => x.mid === null && !x.stopping && x.kind === section.kind)
      if (t) {
        t.mid = section.mid
        undo.associated.push(t)
      }
    }
    this.undo = undo
    this.pendingLocalDescription = description
    this.setSignalingState('have-local-offer')
    this.gatherIfReady()
  }

  private applyLocalAnswer(sdp: string): void {
    const description = new SimSessionDescription('answer', sdp, parseSdp(sdp))
    this.currentLocalDescription = description
    this.currentRemoteDescription = this.pendingRemoteDescription
    this.pendingLocalDescription = null
    this.pendingRemoteDescription = null
    this.undo = null
    for (const section of description.parsed.sections) {
      if (section.kind === 'application') {
        this.dataMid = section.rejected ? null : section.mid
        continue
      }
      const t = this.transceivers.find((x) => x.mid === section.mid)
      if (!t) continue
      if (section.rejected) {
        t.stopping = true
        t.currentDirection = 'stopped'
        this.receiverGone(t)
        continue
      }
      this.setCurrentDirection(t, section.direction)
    }
    this.clearAppliedRestart()
    this.setSignalingState('stable')
    this.returnedToStable()
    this.gatherIfReady()
    this.net.scheduleCheck()
  }

  /**
   * Like libwebrtc: a description must keep every media section negotiated
   * before at its index, with its mid and kind (one rejected before may be
   * reused).
   */
  private assertSameMLines(parsed: ReturnType<typeof parseSdp>): void {
    const before = (this.currentRemoteDescription ?? this.currentLocalDescription)?.parsed.sections ?? []
    for (const [index, old] of before.entries()) {
      if (old.rejected) continue
      const now = parsed.sections[index]
      if (!now || now.mid !== old.mid || now.kind !== old.kind) {
        throw new DOMException(
          "Failed to set remote description: The order of m-lines in subsequent offer doesn't match order from previous offer/answer.",
          'InvalidAccessError',
        )
      }
    }
  }

  private applyRemoteOffer(description: SimSessionDescription): void {
    const undo: Undo = this.undo && this.signalingState === 'have-remote-offer'
      ? this.undo
      : { associated: [], createdTransceivers: [], fired: new Map(), dataMid: this.dataMid }
    const started: SimulatedRtpTransceiver[] = []
    for (const section of description.parsed.sections) {
      if (section.kind === 'application') {
        if (!section.rejected) this.dataMid = section.mid
        continue
      }
      let t = this.transceivers.find((x) => x.mid === section.mid)
      if (!t && section.rejected) continue
      if (!t) {
        t = this.transceivers.find((x) => x.mid === null && !x.stopping && x.kind === section.kind && x.createdBy === 'addTrack')
        if (t) {
          t.mid = section.mid
          undo.associated.push(t)
        }
      }
      if (!t) {
        t = this.newTransceiver(section.kind, 'recvonly', null, [], 'remote')
        t.mid = section.mid
        undo.createdTransceivers.push(t)
      }
      if (section.rejected) {
        t.stopping = true
        this.receiverGone(t)
        continue
      }
      if (!undo.fired.has(t)) undo.fired.set(t, { direction: t.firedDirection, streams: t.remoteStreamIds })
      if (this.processRemoteDirection(t, section)) started.push(t)
    }
    this.undo = undo
    this.pendingRemoteDescription = description
    this.setSignalingState('have-remote-offer')
    this.fireTracks(started)
  }

  private applyRemoteAnswer(description: SimSessionDescription): void {
    const started: SimulatedRtpTransceiver[] = []
    this.currentRemoteDescription = description
    this.currentLocalDescription = this.pendingLocalDescription
    this.pendingLocalDescription = null
    this.pendingRemoteDescription = null
    this.undo = null
    for (const section of description.parsed.sections) {
      if (section.kind === 'application') {
        this.dataMid = section.rejected ? null : section.mid
        continue
      }
      const t = this.transceivers.find((x) => x.mid === section.mid)
      if (!t) continue
      if (section.rejected) {
        t.stopping = true
        t.currentDirection = 'stopped'
        this.receiverGone(t)
        continue
      }
      this.setCurrentDirection(t, reverse(section.direction))
      if (this.processRemoteDirection(t, section)) started.push(t)
    }
    this.clearAppliedRestart()
    this.setSignalingState('stable')
    this.fireTracks(started)
    this.returnedToStable()
    this.gatherIfReady()
    this.net.scheduleCheck()
  }

  private setCurrentDirection(t: SimulatedRtpTransceiver, dir: Direction): void {
    t.currentDirection = dir
    if (sends(dir)) t.everSent = true
    if (!receives(dir) && receives(t.firedDirection)) {
      t.firedDirection = dir
      this.receiverGone(t)
    }
  }

  /** Updates remote streams; true when the remote starts sending on `t`. */
  private processRemoteDirection(t: SimulatedRtpTransceiver, section: MediaSection): boolean {
    const remoteSends = sends(section.direction)
    const streamIds = remoteSends ? section.msids.map((m) => m.stream).filter((s) => s !== '-') : t.remoteStreamIds
    if (remoteSends) this.setRemoteStreams(t, [...new Set(streamIds)])
    const wasReceiving = receives(t.firedDirection)
    // Our view of the direction: the remote's reversed.
    const nowReceiving = remoteSends && receives(t.wanted)
    t.firedDirection = direction(sends(t.firedDirection), nowReceiving)
    if (nowReceiving && !wasReceiving) return true
    if (!nowReceiving && wasReceiving) this.receiverGone(t)
    return false
  }

  private setRemoteStreams(t: SimulatedRtpTransceiver, ids: string[]): void {
    const track = t.receiver.track
    for (const old of t.remoteStreamIds) {
      if (!ids.includes(old)) this.remoteStreams.get(old)?.uaRemoveTrack(asTrack(track))
    }
    t.remoteStreamIds = ids
    if (receives(t.firedDirection)) for (const id of ids) this.remoteStream(id).uaAddTrack(asTrack(track))
  }

  private remoteStream(id: string): SimulatedMediaStream {
    let stream = this.remoteStreams.get(id)
    if (!stream) {
      stream = new SimulatedMediaStream(this.net, [], id)
      this.remoteStreams.set(id, stream)
    }
    return stream
  }

  private fireTracks(started: SimulatedRtpTransceiver[]): void {
    for (const t of started) {
      const track = t.receiver.track
      const streams = t.remoteStreamIds.map((id) => this.remoteStream(id))
      for (const stream of streams) stream.uaAddTrack(asTrack(track))
      track.setMuted(false)
      if (this.closed) return
      this.fire('track', { track, streams, receiver: t.receiver, transceiver: t })
    }
  }

  /** The remote stopped sending on `t`: mute its track and take it out of the streams. */
  receiverGone(t: SimulatedRtpTransceiver): void {
    const track = t.receiver.track
    for (const id of t.remoteStreamIds) this.remoteStreams.get(id)?.uaRemoveTrack(asTrack(track))
    track.setMuted(true)
    if (t.stopping) track.readyState = 'ended'
  }

  private rollback(): void {
    const state = this.signalingState
    if (state !== 'have-local-offer' && state !== 'have-remote-offer') {
      throw new DOMException(`rollback in state ${state}`, 'InvalidStateError')
    }
    const undo = this.undo
    this.undo = null
    // A discarded ICE generation gathers afresh if it is offered again.
    const rolledBack = this.pendingLocalDescription?.parsed.ufrag
    if (rolledBack && rolledBack !== this.currentLocalDescription?.parsed.ufrag) this.gathered.delete(rolledBack)
    if (undo) {
      for (const t of undo.associated) t.mid = null
      for (const [t, previous] of undo.fired) {
        const wasReceiving = receives(t.firedDirection)
        t.firedDirection = previous.direction
        if (wasReceiving && !receives(previous.direction)) this.receiverGone(t)
        t.remoteStreamIds = previous.streams
      }
      for (const t of undo.createdTransceivers) {
        if (t.sender.track !== null || t.createdBy !== 'remote' || t.wanted !== 'recvonly') {
          t.mid = null
          continue
        }
        this.receiverGone(t)
        t.receiver.track.readyState = 'ended'
        this.transceivers = this.transceivers.filter((x) => x !== t)
      }
      this.dataMid = undo.dataMid
    }
    this.pendingLocalDescription = null
    this.pendingRemoteDescription = null
    this.setSignalingState('stable')
    this.returnedToStable()
  }

  // --- negotiation-needed

  private returnedToStable(): void {
    // Re-evaluated on the way back to stable: fires again if still needed.
    this.negotiationNeeded = false
    this.updateNegotiationNeeded()
  }

  updateNegotiationNeeded(): void {
    if (this.closed) return
    if (this.ops.length > 0) {
      this.updateOnEmptyChain = true
      return
    }
    this.net.queueTask(() => {
      if (this.closed) return
      if (this.ops.length > 0) {
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
    if (this.restartCreds) return true
    const local = this.currentLocalDescription
    const remote = this.currentRemoteDescription
    if (this.dataCreated !== null && !local?.parsed.sections.some((s) => s.kind === 'application' && !s.rejected)) return true
    for (const t of this.transceivers) {
      const section = local?.parsed.sections.find((s) => s.mid === t.mid)
      if (t.stopping) {
        if (section && !section.rejected) return true
        continue
      }
      if (!local || !section || t.mid === null) return true
      const remoteSection = remote?.parsed.sections.find((s) => s.mid === t.mid)
      const expected = local.type === 'offer' ? t.wanted : intersect(t.wanted, remoteSection?.direction ?? 'inactive')
      if (section.direction !== expected) return true
      if (sends(t.wanted)) {
        const signalled = section.msids.map((m) => m.stream).filter((s) => s !== '-').sort().join(' ')
        if (signalled !== [...t.sender.streamIds].sort().join(' ')) return true
      }
    }
    return false
  }

  private clearAppliedRestart(): void {
    const local = this.currentLocalDescription
    if (!local) return
    if (this.restartCreds && local.parsed.ufrag !== this.iceToReplace) {
      this.restartCreds = null
      this.iceToReplace = null
    }
  }

  // --- ICE

  /** The connection this one's remote description came from. */
  counterpart(): SimulatedPeerConnection | undefined {
    const remote = this.remoteDescription
    return remote ? this.net.byFingerprint(remote.parsed.fingerprint) : undefined
  }

  private gatherIfReady(): void {
    // Gathering starts with the local description, as in browsers: the
    // candidates of an offer trickle out before its answer comes.
    const local = this.localDescription
    if (!local || this.closed) return
    const ufrag = local.parsed.ufrag
    if (this.gathered.has(ufrag)) return
    this.gathered.add(ufrag)
    this.net.queueTask(() => {
      if (this.closed || this.localDescription?.parsed.ufrag !== ufrag) {
        this.gathered.delete(ufrag)
        return
      }
      const first = this.localDescription.parsed.sections[0]
      this.setGatheringState('gathering')
      const candidate = new SimulatedIceCandidate({
        candidate: `candidate:1 1 udp 2122260223 192.0.2.${this.id.slice(2)} 9 typ host generation 0 ufrag ${ufrag} network-id 1`,
        sdpMid: first?.mid ?? '0',
        sdpMLineIndex: 0,
        usernameFragment: ufrag,
      })
      this.fire('icecandidate', { candidate })
      if (this.closed) return
      this.setGatheringState('complete')
      this.fire('icecandidate', { candidate: null })
      this.net.scheduleCheck()
    })
  }

  private setGatheringState(state: RTCIceGatheringState): void {
    if (this.iceGatheringState === state) return
    this.iceGatheringState = state
    this.fire('icegatheringstatechange')
  }

  setIceState(state: RTCIceConnectionState): void {
    if (this.closed || this.iceConnectionState === state) return
    const before = this.connectionState
    this.iceConnectionState = state
    if (state === 'failed') this.failedUfrag = this.localDescription?.parsed.ufrag ?? null
    if (state === 'connected') this.failedUfrag = null
    this.fire('iceconnectionstatechange')
    if (this.connectionState !== before) this.fire('connectionstatechange')
    this.net.scheduleCheck()
  }

  /** Whether this connection and `peer` have what ICE needs to connect. */
  private canReach(peer: SimulatedPeerConnection): boolean {
    const local = this.localDescription?.parsed
    const remote = this.remoteDescription?.parsed
    const peerLocal = peer.localDescription?.parsed
    const peerRemote = peer.remoteDescription?.parsed
    if (!local || !remote || !peerLocal || !peerRemote || peer.closed) return false
    if (remote.fingerprint !== peer.fingerprint || peerRemote.fingerprint !== this.fingerprint) return false
    if (remote.ufrag !== peerLocal.ufrag || peerRemote.ufrag !== local.ufrag) return false
    if (!this.receivedUfrags.has(peerLocal.ufrag) || !peer.receivedUfrags.has(local.ufrag)) return false
    return !this.net.isPartitioned(this.label, peer.label)
  }

  checkConnectivity(): void {
    if (this.closed) return
    const hasBoth = this.localDescription !== null && this.remoteDescription !== null
    const state = this.iceConnectionState
    const ufrag = this.localDescription?.parsed.ufrag ?? null
    if (state === 'new' && hasBoth) {
      this.setIceState('checking')
      return
    }
    if (state === 'failed') {
      if (hasBoth && ufrag !== this.failedUfrag) this.setIceState('checking')
      return
    }
    if (state === 'connected') return
    const peer = this.counterpart()
    if (peer && this.canReach(peer) && (state === 'checking' || state === 'disconnected')) this.setIceState('connected')
  }

  /** Opens data channels that both sides have once the connection is up. */
  checkChannels(): void {
    if (this.closed || this.iceConnectionState !== 'connected') return
    const peer = this.counterpart()
    if (!peer || peer.iceConnectionState !== 'connected' || peer.counterpart() !== this) return
    const sctp = (pc: SimulatedPeerConnection) =>
      pc.currentLocalDescription?.parsed.sections.some((s) => s.kind === 'application' && !s.rejected) ?? false
    if (!sctp(this) || !sctp(peer)) return
    for (const channel of this.channels) {
      if (channel.readyState !== 'connecting') continue
      if (!channel.negotiated && !channel.announced) {
        // In-band (DCEP): the other side gets a datachannel event.
        channel.announced = true
        if (channel.id === null) channel.id = this.nextStreamId()
        const remote = new SimulatedDataChannel(peer, channel.label, {
          id: channel.id,
          ordered: channel.ordered,
          protocol: channel.protocol,
          negotiated: false,
        })
        remote.announced = true
        peer.channels.push(remote)
        channel.open(remote)
        remote.open(channel)
        peer.fire('datachannel', { channel: remote })
        continue
      }
      if (!channel.negotiated) continue
      const match = peer.channels.find((c) => c.negotiated && c.id === channel.id && c.readyState === 'connecting')
      if (!match) continue
      channel.open(match)
      match.open(channel)
    }
  }

  private nextStreamId(): number {
    // DTLS client (setup:active, the answerer) takes even ids, server odd.
    const odd = this.currentLocalDescription?.parsed.setup !== 'active'
    let id = odd ? 1 : 0
    while (this.channels.some((c) => c.id === id)) id += 2
    return id
  }
}
