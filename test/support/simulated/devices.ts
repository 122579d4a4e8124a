/** Simulated getUserMedia, getDisplayMedia and enumerateDevices. */
import type { WebRTCImpl } from '../../../machines/webrtc'
import { SimulatedMediaStream, SimulatedMediaStreamTrack } from './media'
import type { Network } from './network'

/** Which devices an endpoint has: all, none (NotFoundError), or all behind a refused permission (NotAllowedError). */
export type DeviceMode = 'all' | 'none' | 'denied'

/** The media members of a simulated {@link WebRTCImpl}. */
export function simulatedDevices(net: Network, devices: DeviceMode) {
  const deviceError = (): DOMException | null =>
    devices === 'none'
      ? new DOMException('Requested device not found', 'NotFoundError')
      : devices === 'denied'
        ? new DOMException('Permission denied', 'NotAllowedError')
        : null
  return {
    async getUserMedia(constraints: MediaStreamConstraints): Promise<SimulatedMediaStream> {
      if (!constraints.audio && !constraints.video) {
        throw new TypeError('getUserMedia: at least one of audio and video is required')
      }
      const error = deviceError()
      if (error) throw error
      const tracks: SimulatedMediaStreamTrack[] = []
      if (constraints.audio) tracks.push(new SimulatedMediaStreamTrack(net, 'audio', 'Simulated microphone'))
      if (constraints.video) tracks.push(new SimulatedMediaStreamTrack(net, 'video', 'Simulated camera'))
      return new SimulatedMediaStream(net, tracks)
    },
    async getDisplayMedia(): Promise<SimulatedMediaStream> {
      if (devices === 'denied') throw new DOMException('Permission denied', 'NotAllowedError')
      const track = new SimulatedMediaStreamTrack(net, 'video', 'Simulated screen')
      track.contentHint = 'detail'
      return new SimulatedMediaStream(net, [track])
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
  } satisfies Omit<WebRTCImpl, 'RTCPeerConnection' | 'MediaStream'>
}
