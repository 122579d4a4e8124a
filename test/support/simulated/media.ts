/** Simulated media: tracks that carry nothing, and the streams that hold them. */
import type { MediaStreamLike, MediaStreamTrackLike } from '../../../machines/webrtc'
import { SimEventTarget, type Handler } from './eventTarget'

/** A track of a simulated capture, or a receiver's track; it carries no media. */
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

  get onended() {
    return this.getHandler('ended')
  }
  set onended(h: Handler) {
    this.setHandler('ended', h)
  }
  get onmute() {
    return this.getHandler('mute')
  }
  set onmute(h: Handler) {
    this.setHandler('mute', h)
  }
  get onunmute() {
    return this.getHandler('unmute')
  }
  set onunmute(h: Handler) {
    this.setHandler('unmute', h)
  }

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

/** A MediaStream: a list of tracks, and the `addtrack`/`removetrack` events the user agent fires. */
export class SimulatedMediaStream extends SimEventTarget {
  readonly id: string
  private tracks: MediaStreamTrackLike[] = []

  constructor(net: { nextId(prefix: string): string }, tracks?: MediaStreamTrackLike[] | MediaStreamLike, id?: string) {
    super()
    this.id = id ?? net.nextId('stream-')
    const initial = tracks === undefined ? [] : Array.isArray(tracks) ? tracks : tracks.getTracks()
    for (const track of initial) if (!this.tracks.includes(track)) this.tracks.push(track)
  }

  get active(): boolean {
    return this.tracks.some((t) => t.readyState === 'live')
  }
  get onaddtrack() {
    return this.getHandler('addtrack')
  }
  set onaddtrack(h: Handler) {
    this.setHandler('addtrack', h)
  }
  get onremovetrack() {
    return this.getHandler('removetrack')
  }
  set onremovetrack(h: Handler) {
    this.setHandler('removetrack', h)
  }

  getTracks(): MediaStreamTrackLike[] {
    return [...this.tracks]
  }
  getAudioTracks(): MediaStreamTrackLike[] {
    return this.tracks.filter((t) => t.kind === 'audio')
  }
  getVideoTracks(): MediaStreamTrackLike[] {
    return this.tracks.filter((t) => t.kind === 'video')
  }
  getTrackById(id: string): MediaStreamTrackLike | null {
    return this.tracks.find((t) => t.id === id) ?? null
  }
  addTrack(track: MediaStreamTrackLike): void {
    if (!this.tracks.includes(track)) this.tracks.push(track)
  }
  removeTrack(track: MediaStreamTrackLike): void {
    this.tracks = this.tracks.filter((t) => t !== track)
  }
  clone(): SimulatedMediaStream {
    return new SimulatedMediaStream({ nextId: (p) => `${this.id}-clone-${p}` }, this.tracks)
  }

  /** The user agent adds a remote track: fires `addtrack`. */
  uaAddTrack(track: MediaStreamTrackLike): void {
    if (this.tracks.includes(track)) return
    this.tracks.push(track)
    this.fire('addtrack', { track })
  }
  /** The user agent removes a remote track: fires `removetrack`. */
  uaRemoveTrack(track: MediaStreamTrackLike): void {
    if (!this.tracks.includes(track)) return
    this.removeTrack(track)
    this.fire('removetrack', { track })
  }
}
