/**
 * Synthetic cameras, microphones and screens for Node: wrtc's nonstandard
 * sources fed by timers, behind `getUserMedia`, `getDisplayMedia` and
 * `enumerateDevices` as Media Capture and Streams and Screen Capture
 * specify their failures. `nodeWebRTC()` in `./wrtc.ts` puts them beside
 * the connection.
 *
 * @example
 * ```ts
 * const media = syntheticMedia({ width: 640, height: 360, label: 'alice' })
 * const stream = await media.getUserMedia({ audio: true, video: true })
 * // ... and when done:
 * for (const track of stream.getTracks()) track.stop()
 * ```
 */
import { randomFillSync } from 'node:crypto'
import wrtc from '@roamhq/wrtc'
import type { NodeWebRTC } from './wrtc'

/** What the synthetic devices produce, and which of them exist. */
export type SyntheticMediaOptions = {
  /** Camera frame width in pixels; even, because frames are I420. Default 320. */
  width?: number
  /** Camera frame height in pixels; even. Default 240. */
  height?: number
  /** Camera frames per second. Default 15. */
  fps?: number
  /** Microphone tone in Hz. Default 440. */
  toneHz?: number
  /** Names the devices and tracks ("alice camera"). Default "Synthetic". */
  label?: string
  /**
   * Which devices exist: `all` (default), `none` (getUserMedia rejects
   * `NotFoundError`), `audio-only` (video requests reject `NotFoundError`) or
   * `denied` (getUserMedia and getDisplayMedia reject `NotAllowedError`).
   */
  devices?: 'all' | 'none' | 'audio-only' | 'denied'
  /**
   * What the camera shows: `bars` (default: colour bars with a moving
   * square, which compress to well under 100 kbit/s) or `noise` (random
   * pixels, an eighth of them fresh in every frame, which take all the
   * bitrate the encoder is given, as a busy scene does: for tests of
   * congestion control).
   */
  scene?: 'bars' | 'noise'
}

/** The media members of {@link NodeWebRTC}. */
export type SyntheticDevices = Pick<NodeWebRTC, 'getUserMedia' | 'getDisplayMedia' | 'enumerateDevices'>

/**
 * Builds the synthetic devices.
 *
 * Synthetic tracks generate media on unref'd timers only while live, and stop
 * when `track.stop()` is called. Constraint values (width, frameRate,
 * deviceId, ...) are ignored: a synthetic device has one format, set by the
 * options.
 */
export function syntheticMedia(options: SyntheticMediaOptions = {}): SyntheticDevices {
  const camera = {
    width: options.width ?? 320,
    height: options.height ?? 240,
    fps: options.fps ?? 15,
  }
  const toneHz = options.toneHz ?? 440
  const label = options.label ?? 'Synthetic'
  const devices = options.devices ?? 'all'
  validateFormat('camera', camera)
  if (!(toneHz > 0 && toneHz < AUDIO_SAMPLE_RATE / 2)) {
    throw new RangeError(`nodeWebRTC: toneHz must be between 0 and ${AUDIO_SAMPLE_RATE / 2}, got ${toneHz}`)
  }

  return {
    async getUserMedia(constraints) {
      const wantsAudio = Boolean(constraints.audio)
      const wantsVideo = Boolean(constraints.video)
      if (!wantsAudio && !wantsVideo) {
        // Media Capture and Streams, getUserMedia(): requesting no kind is a TypeError.
        throw new TypeError('getUserMedia: request audio, video or both')
      }
      if (devices === 'denied') throw new DOMException('Permission denied', 'NotAllowedError')
      if (devices === 'none' || (wantsVideo && devices === 'audio-only')) {
        throw new DOMException('Requested device not found', 'NotFoundError')
      }
      const tracks: MediaStreamTrack[] = []
      if (wantsAudio) tracks.push(startTone(toneHz, `${label} microphone`))
      if (wantsVideo) {
        const device = { deviceId: CAMERA_ID, label: `${label} camera`, isScreencast: false }
        tracks.push(startVideo(camera, options.scene === 'noise' ? noise() : colourBars, device))
      }
      return new wrtc.MediaStream(tracks)
    },
    async getDisplayMedia(displayOptions) {
      if (displayOptions?.video === false) {
        // Screen Capture, getDisplayMedia(): `video: false` is a TypeError.
        throw new TypeError('getDisplayMedia: video cannot be false')
      }
      if (devices === 'denied') throw new DOMException('Permission denied', 'NotAllowedError')
      const track = startVideo(SCREEN, desktop, { deviceId: SCREEN_ID, label: `${label} screen`, isScreencast: true })
      return new wrtc.MediaStream([track])
    },
    async enumerateDevices() {
      if (devices === 'none') return []
      if (devices === 'denied') {
        // Media Capture and Streams, enumerateDevices(): without permission,
        // one entry per kind, with no id or label.
        return [deviceInfo('videoinput', '', ''), deviceInfo('audioinput', '', '')]
      }
      const microphone = deviceInfo('audioinput', MICROPHONE_ID, `${label} microphone`)
      if (devices === 'audio-only') return [microphone]
      return [deviceInfo('videoinput', CAMERA_ID, `${label} camera`), microphone]
    },
  }
}

/** Stops every synthetic track that is still live, and its generator. */
export function stopAllSynthetic(): void {
  for (const generator of generators) generator.stop()
}

/** How many synthetic tracks are still generating media; for tests checking clean-up. */
export function activeSyntheticTracks(): number {
  return generators.size
}

const AUDIO_SAMPLE_RATE = 48_000
const AUDIO_CHUNK_MS = 10
const CAMERA_ID = 'synthetic-camera'
const MICROPHONE_ID = 'synthetic-microphone'
const SCREEN_ID = 'synthetic-screen'
const SCREEN = { width: 1280, height: 720, fps: 5 }

type VideoFormat = { width: number; height: number; fps: number }
type Yuv = readonly [y: number, u: number, v: number]
type Rect = { x: number; y: number; width: number; height: number }
/** Draws frame number `index` into `frame`, which holds the I420 planes. */
type Pattern = (frame: Uint8Array, format: VideoFormat, index: number) => void

type MediaGenerator = { stop(): void }
const generators = new Set<MediaGenerator>()

function validateFormat(name: string, { width, height, fps }: VideoFormat): void {
  const even = (value: number) => Number.isInteger(value) && value > 0 && value % 2 === 0
  if (!even(width) || !even(height)) {
    throw new RangeError(`nodeWebRTC: ${name} width and height must be positive even integers (I420), got ${width}x${height}`)
  }
  if (!(fps > 0 && fps <= 120)) throw new RangeError(`nodeWebRTC: ${name} fps must be in (0, 120], got ${fps}`)
}

function startVideo(
  format: VideoFormat,
  pattern: Pattern,
  device: { deviceId: string; label: string; isScreencast: boolean },
): MediaStreamTrack {
  const source = new wrtc.nonstandard.RTCVideoSource({ isScreencast: device.isScreencast })
  const track = source.createTrack()
  const { width, height, fps: frameRate } = format
  describeTrack(track, device.label, { deviceId: device.deviceId, width, height, frameRate })
  let index = 0
  generate(track, 1000 / format.fps, () => {
    const data = new Uint8Array((format.width * format.height * 3) / 2)
    pattern(data, format, index++)
    source.onFrame({ width: format.width, height: format.height, data })
  })
  return track
}

function startTone(toneHz: number, label: string): MediaStreamTrack {
  const source = new wrtc.nonstandard.RTCAudioSource()
  const track = source.createTrack()
  describeTrack(track, label, { deviceId: MICROPHONE_ID, sampleRate: AUDIO_SAMPLE_RATE, channelCount: 1 })
  const numberOfFrames = (AUDIO_SAMPLE_RATE * AUDIO_CHUNK_MS) / 1000
  const step = (2 * Math.PI * toneHz) / AUDIO_SAMPLE_RATE
  const started = performance.now()
  let sent = 0
  let phase = 0
  // Timers drift, so each tick sends every chunk that is due by the clock,
  // skipping ahead rather than bursting after a long stall.
  generate(track, AUDIO_CHUNK_MS, () => {
    const due = Math.floor((performance.now() - started) / AUDIO_CHUNK_MS)
    sent = Math.max(sent, due - 10)
    for (; sent < due; sent++) {
      const samples = new Int16Array(numberOfFrames)
      for (let i = 0; i < numberOfFrames; i++) {
        samples[i] = Math.round(Math.sin(phase) * 8000)
        phase = (phase + step) % (2 * Math.PI)
      }
      source.onData({ samples, sampleRate: AUDIO_SAMPLE_RATE, bitsPerSample: 16, channelCount: 1, numberOfFrames })
    }
  })
  return track
}

/**
 * Random luma on grey chroma, an eighth of the rows fresh in every frame
 * (each band in turn): a scene busy enough to take all the bitrate it is
 * given, whose frames still differ by parts, as a camera's do.
 */
function noise(): Pattern {
  const BANDS = 8
  let previous: Uint8Array | null = null
  return (frame, { width, height }, index) => {
    const luma = width * height
    const band = Math.ceil(height / BANDS) * width
    if (previous) frame.set(previous)
    else randomFillSync(frame, 0, luma)
    const start = (index % BANDS) * band
    randomFillSync(frame, start, Math.min(band, luma - start))
    frame.fill(128, luma)
    previous = frame
  }
}

/** Runs `emit` every `intervalMs` until the track ends, without holding the process open. */
function generate(track: MediaStreamTrack, intervalMs: number, emit: () => void): void {
  const generator: MediaGenerator = {
    stop() {
      clearInterval(timer)
      generators.delete(generator)
      track.stop()
    },
  }
  const tick = () => {
    // track.stop() fires no event (Media Capture and Streams), so poll the state.
    if (track.readyState === 'ended') generator.stop()
    else emit()
  }
  const timer = setInterval(tick, intervalMs).unref()
  generators.add(generator)
  tick()
}

/** The binding's tracks have no label and report a fake 640x480 device. */
function describeTrack(track: MediaStreamTrack, label: string, settings: MediaTrackSettings): void {
  Object.defineProperty(track, 'label', { value: label, enumerable: true })
  Object.defineProperty(track, 'getSettings', { value: () => ({ ...settings }) })
}

function deviceInfo(kind: MediaDeviceKind, deviceId: string, label: string): MediaDeviceInfo {
  const info = { deviceId, groupId: deviceId === '' ? '' : 'synthetic', kind, label }
  return { ...info, toJSON: () => info }
}

// BT.601 limited-range colours.
const WHITE: Yuv = [235, 128, 128]
const BLACK: Yuv = [16, 128, 128]
const YELLOW: Yuv = [210, 16, 146]
const CYAN: Yuv = [170, 166, 16]
const GREEN: Yuv = [145, 54, 34]
const MAGENTA: Yuv = [106, 202, 222]
const RED: Yuv = [81, 90, 240]
const BLUE: Yuv = [41, 240, 110]
const BARS: readonly Yuv[] = [WHITE, YELLOW, CYAN, GREEN, MAGENTA, RED, BLUE]

/** Colour bars with a black bar sweeping left to right. */
function colourBars(frame: Uint8Array, format: VideoFormat, index: number): void {
  const barWidth = evenFloor(format.width / BARS.length)
  BARS.forEach((colour, bar) => {
    const width = bar === BARS.length - 1 ? format.width : barWidth
    fillRect(frame, format, { x: bar * barWidth, y: 0, width, height: format.height }, colour)
  })
  const sweep = Math.max(2, evenFloor(format.width / 32))
  fillRect(frame, format, { x: (index * sweep) % format.width, y: 0, width: sweep, height: format.height }, BLACK)
}

/** A dark desktop with a window whose white line scrolls down. */
function desktop(frame: Uint8Array, format: VideoFormat, index: number): void {
  fillRect(frame, format, { x: 0, y: 0, width: format.width, height: format.height }, [60, 140, 120])
  const pane = {
    x: evenFloor(format.width / 8),
    y: evenFloor(format.height / 8),
    width: evenFloor((format.width * 3) / 4),
    height: evenFloor((format.height * 3) / 4),
  }
  fillRect(frame, format, pane, [200, 128, 128])
  fillRect(frame, format, { ...pane, height: 24 }, [90, 170, 100])
  fillRect(frame, format, { ...pane, y: pane.y + 24 + ((index * 8) % (pane.height - 32)), height: 8 }, WHITE)
}

/** Fills a rectangle (clipped, snapped to even coordinates) in an I420 frame. */
function fillRect(frame: Uint8Array, { width, height }: VideoFormat, rect: Rect, [luma, u, v]: Yuv): void {
  const left = evenFloor(Math.max(0, rect.x))
  const top = evenFloor(Math.max(0, rect.y))
  const right = Math.min(width, evenFloor(rect.x + rect.width))
  const bottom = Math.min(height, evenFloor(rect.y + rect.height))
  if (right <= left || bottom <= top) return
  for (let row = top; row < bottom; row++) frame.fill(luma, row * width + left, row * width + right)
  const chromaWidth = width / 2
  const uPlane = width * height
  const vPlane = uPlane + (chromaWidth * height) / 2
  for (let row = top / 2; row < bottom / 2; row++) {
    frame.fill(u, uPlane + row * chromaWidth + left / 2, uPlane + row * chromaWidth + right / 2)
    frame.fill(v, vPlane + row * chromaWidth + left / 2, vPlane + row * chromaWidth + right / 2)
  }
}

function evenFloor(value: number): number {
  return Math.floor(value / 2) * 2
}
