/**
 * The outside world the machines touch, passed in as one object so that each
 * runtime brings its own: the browser passes its globals ({@link browserWebRTC}
 * in `machines/browser.ts`), Node passes `@roamhq/wrtc` with synthetic media
 * (`machines/node/wrtc.ts`), and model tests pass a simulated connection.
 *
 * The machines rely on the current webrtc-pc behaviour:
 * - `setLocalDescription()` with no argument creates the right offer or answer;
 * - `setRemoteDescription(offer)` in `have-local-offer` rolls back implicitly;
 * - every description and candidate operation runs on one operations chain,
 *   in call order.
 * An implementation that lacks these (libwebrtc's Node binding does) must
 * provide them.
 *
 * The object types are the part of each DOM interface that meshcall uses,
 * not the whole of it, so that a simulation or a shim can provide exactly
 * that. The browser's own objects satisfy them as they are. Each is an
 * `EventTarget`: the machines listen with `addEventListener`, never through
 * the `on<event>` properties.
 */
export type WebRTCImpl = {
  RTCPeerConnection: new (configuration?: RTCConfiguration) => PeerConnectionLike
  /** The machines only make empty streams, to gather the remote tracks in. */
  MediaStream: new () => MediaStreamLike
  /** Camera and microphone. Rejects with a DOMException-like `name`: `NotAllowedError`, `NotFoundError`, … */
  getUserMedia(constraints: MediaStreamConstraints): Promise<MediaStreamLike>
  /** Screen capture; absent where the runtime cannot capture a screen. */
  getDisplayMedia?(options?: DisplayMediaStreamOptions): Promise<MediaStreamLike>
  /** Devices for the pickers; absent where there is no such list. */
  enumerateDevices?(): Promise<DeviceInfoLike[]>
  /** The WebSocket class for the signaling socket; browsers use the global one. */
  WebSocket?: unknown
  /**
   * Calls `onChange` when this device's network changes (an address came or
   * went, the browser went back online); returns the function that stops
   * watching. Absent where the runtime cannot tell.
   */
  watchNetwork?(onChange: (what: string) => void): () => void
  /** Calls `onChange` when a camera or microphone is plugged in or out (`devicechange`); returns the function that stops watching. */
  watchDevices?(onChange: () => void): () => void
}

/**
 * A local or remote `MediaStreamTrack`; `ended` is the one event the
 * machines listen to, and the lobby shows the `label`.
 */
export type MediaStreamTrackLike = EventTarget &
  Pick<MediaStreamTrack, 'id' | 'kind' | 'label' | 'enabled' | 'readyState' | 'stop' | 'getSettings'> &
  /** Absent on synthetic tracks (the Node bots'), which have one size. */
  Partial<Pick<MediaStreamTrack, 'applyConstraints'>>

/** A `MediaStream`: a local capture, or one the machines gather remote tracks in. */
export type MediaStreamLike = Pick<MediaStream, 'id'> & {
  getTracks(): MediaStreamTrackLike[]
  getAudioTracks(): MediaStreamTrackLike[]
  getVideoTracks(): MediaStreamTrackLike[]
  getTrackById(trackId: string): MediaStreamTrackLike | null
  addTrack(track: MediaStreamTrackLike): void
  removeTrack(track: MediaStreamTrackLike): void
}

/** An entry of `enumerateDevices()`, for the device pickers. */
export type DeviceInfoLike = Pick<MediaDeviceInfo, 'deviceId' | 'groupId' | 'kind' | 'label'>

/** A description as the connection reports it. */
export type SessionDescriptionLike = Pick<RTCSessionDescription, 'type' | 'sdp'>

/** An `RTCRtpSender`: its track is replaced in place, and its encodings tuned. */
export type RtpSenderLike = Pick<RTCRtpSender, 'getParameters' | 'setParameters'> & {
  readonly track: MediaStreamTrackLike | null
  replaceTrack(track: MediaStreamTrackLike | null): Promise<void>
}

/** An `RTCRtpTransceiver`: which mid carries which sender's and receiver's track. */
export type RtpTransceiverLike = Pick<RTCRtpTransceiver, 'mid' | 'currentDirection'> & {
  readonly sender: RtpSenderLike
  readonly receiver: { readonly track: MediaStreamTrackLike }
}

/** The negotiated `RTCDataChannel`, which carries JSON text. */
export type DataChannelLike = Pick<RTCDataChannel, 'addEventListener' | 'removeEventListener' | 'readyState' | 'close'> & {
  send(data: string): void
}

/** What `getStats()` resolves to: a maplike of stats by id. */
export type StatsReportLike = Pick<RTCStatsReport, 'forEach'>

/**
 * An `RTCPeerConnection`. Its events are `negotiationneeded`, `icecandidate`
 * (with `candidate.toJSON()`), `connectionstatechange`,
 * `signalingstatechange` and `track` (with `track` and `streams`).
 */
export type PeerConnectionLike = Pick<
  RTCPeerConnection,
  'addEventListener' | 'removeEventListener' | 'connectionState' | 'signalingState' | 'restartIce' | 'close'
> & {
  /** Read by the model tests, which wait for gathering to finish. */
  readonly iceGatheringState: RTCIceGatheringState
  readonly localDescription: SessionDescriptionLike | null
  readonly currentLocalDescription: SessionDescriptionLike | null
  readonly pendingLocalDescription: SessionDescriptionLike | null
  readonly remoteDescription: SessionDescriptionLike | null
  readonly currentRemoteDescription: SessionDescriptionLike | null
  readonly pendingRemoteDescription: SessionDescriptionLike | null
  setLocalDescription(description?: RTCLocalSessionDescriptionInit): Promise<void>
  setRemoteDescription(description: RTCSessionDescriptionInit): Promise<void>
  addIceCandidate(candidate?: RTCIceCandidateInit | null): Promise<void>
  createDataChannel(label: string, init?: RTCDataChannelInit): DataChannelLike
  addTrack(track: MediaStreamTrackLike, ...streams: MediaStreamLike[]): RtpSenderLike
  removeTrack(sender: RtpSenderLike): void
  getTransceivers(): RtpTransceiverLike[]
  getStats(): Promise<StatsReportLike>
}
