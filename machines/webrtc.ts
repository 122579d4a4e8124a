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
 */
export type WebRTCImpl = {
  RTCPeerConnection: new (configuration?: RTCConfiguration) => RTCPeerConnection
  MediaStream: new (tracks?: MediaStreamTrack[]) => MediaStream
  /** Camera and microphone. Rejects with a DOMException-like `name`: `NotAllowedError`, `NotFoundError`, … */
  getUserMedia(constraints: MediaStreamConstraints): Promise<MediaStream>
  /** Screen capture; absent where the runtime cannot capture a screen. */
  getDisplayMedia?(options?: DisplayMediaStreamOptions): Promise<MediaStream>
  /** Devices for the pickers; absent where there is no such list. */
  enumerateDevices?(): Promise<MediaDeviceInfo[]>
  /** The WebSocket class for the signaling socket; browsers use the global one. */
  WebSocket?: unknown
}
