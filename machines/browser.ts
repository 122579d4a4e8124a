import type { WebRTCImpl } from './webrtc'

/** The browser's own WebRTC and media APIs. */
export function browserWebRTC(): WebRTCImpl {
  const devices = navigator.mediaDevices
  return {
    RTCPeerConnection,
    MediaStream,
    getUserMedia: (constraints) => devices.getUserMedia(constraints),
    getDisplayMedia: devices.getDisplayMedia ? (options) => devices.getDisplayMedia(options) : undefined,
    enumerateDevices: () => devices.enumerateDevices(),
  }
}
