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
    watchNetwork,
    watchDevices: (onChange) => {
      devices.addEventListener('devicechange', onChange)
      return () => devices.removeEventListener('devicechange', onChange)
    },
  }
}

/**
 * The browser's word on network changes: `online` (back from offline), and
 * the Network Information API's `change` (Chromium: the connection's type
 * or estimates changed, as when a laptop moves from Wi-Fi to Ethernet).
 * Chromium also closes its WebSockets when the machine's addresses change;
 * the room socket reconnects by itself then.
 */
function watchNetwork(onChange: (what: string) => void): () => void {
  const connection = (navigator as Navigator & { connection?: EventTarget }).connection
  const online = () => onChange('the browser is online again')
  const changed = () => onChange('the network connection changed')
  window.addEventListener('online', online)
  connection?.addEventListener('change', changed)
  return () => {
    window.removeEventListener('online', online)
    connection?.removeEventListener('change', changed)
  }
}
