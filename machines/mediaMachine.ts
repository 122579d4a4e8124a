import { assertEvent, assign, enqueueActions, fromCallback, fromPromise, sendParent, sendTo, setup } from 'xstate'
import type { Logger } from '../lib/log'
import { NO_TRACKS, type LocalTracks } from './localTracks'
import type { DeviceInfoLike, MediaStreamLike, MediaStreamTrackLike, WebRTCImpl } from './webrtc'

export type MediaInput = {
  webrtc: WebRTCImpl
  log: Logger
  /** Ask for a camera / a microphone at all (default both). */
  want?: { audio: boolean; video: boolean }
  audioDeviceId?: string
  videoDeviceId?: string
  /** Size and frame rate for every camera and screen capture it opens (default: the device's own). */
  capture?: CaptureConstraints
}

export type CaptureConstraints = { camera: MediaTrackConstraints | null; screen: MediaTrackConstraints | null }

/** Why local media could not be had, in words a person can act on. */
export type MediaProblem = { reason: 'denied' | 'unavailable'; message: string }

export type MediaContext = {
  webrtc: WebRTCImpl
  log: Logger
  want: { audio: boolean; video: boolean }
  tracks: LocalTracks
  micEnabled: boolean
  cameraEnabled: boolean
  audioDeviceId: string | null
  videoDeviceId: string | null
  capture: CaptureConstraints
  devices: DeviceInfoLike[]
  problem: MediaProblem | null
  /**
   * The last device that ended on its own (unplugged) while in use, and the
   * one taken instead (null when there was none): the UI says so.
   */
  fallback: { kind: 'audioinput' | 'videoinput'; to: string | null; at: number } | null
}

export type MediaEvent =
  | { type: 'ui.toggleMic' }
  | { type: 'ui.toggleCamera' }
  | { type: 'ui.selectDevice'; kind: 'audioinput' | 'videoinput'; deviceId: string }
  | { type: 'ui.startScreen' }
  | { type: 'ui.stopScreen' }
  | { type: 'ui.retryMedia' }
  | { type: 'track.ended'; track: MediaStreamTrackLike }
  /** The devices now present, after a `devicechange`. */
  | { type: 'devices.listed'; devices: DeviceInfoLike[] }
  /** Stop every local track: the call is over. */
  | { type: 'media.release' }
  /** New capture constraints (the low-bandwidth setting changed): applied to the live camera and screen, and to every later capture. */
  | { type: 'media.setCapture'; capture: CaptureConstraints }

/** What the media actor tells its parent whenever what it sends changes. */
export type MediaOutputEvent = {
  type: 'media.tracks'
  tracks: LocalTracks
  mic: boolean
  camera: boolean
  screen: boolean
}

class MediaError extends Error {
  constructor(
    readonly reason: 'denied' | 'unavailable',
    message: string,
  ) {
    super(message)
    this.name = 'MediaError'
  }

  static from(error: unknown): MediaError {
    const name = typeof error === 'object' && error !== null && 'name' in error ? String(error.name) : ''
    if (name === 'NotAllowedError' || name === 'SecurityError') {
      return new MediaError('denied', 'Camera and microphone permission was refused.')
    }
    return new MediaError('unavailable', 'No camera or microphone was found.')
  }
}

/**
 * Stops a capture that arrived after its actor was stopped (the person left
 * while the camera was opening): nobody else would ever stop it.
 */
function cancellable(stream: MediaStreamLike, signal: AbortSignal): MediaStreamLike {
  if (signal.aborted) {
    for (const track of stream.getTracks()) track.stop()
    throw new MediaError('unavailable', 'Cancelled.')
  }
  return stream
}

/**
 * getUserMedia for what is wanted, falling back to fewer kinds: a missing
 * camera should not cost the microphone. Permission refused stops at once.
 */
/** What the camera and microphone gave. */
export type AcquiredMedia = {
  stream: MediaStreamLike
  audio: MediaStreamTrackLike | null
  video: MediaStreamTrackLike | null
  devices: DeviceInfoLike[]
}

export const acquireMedia = fromPromise<
  AcquiredMedia,
  {
    webrtc: WebRTCImpl
    want: { audio: boolean; video: boolean }
    audioDeviceId: string | null
    videoDeviceId: string | null
    capture: MediaTrackConstraints | null
  }
>(async ({ input, signal }) => {
  const { webrtc, want } = input
  const audio: MediaTrackConstraints | boolean = input.audioDeviceId ? { deviceId: { exact: input.audioDeviceId } } : true
  const video = cameraConstraints(input.videoDeviceId, input.capture)
  const attempts: MediaStreamConstraints[] = [
    ...(want.audio && want.video ? [{ audio, video }] : []),
    ...(want.audio ? [{ audio }] : []),
    ...(want.video ? [{ video }] : []),
  ]
  if (attempts.length === 0) throw new MediaError('unavailable', 'Neither camera nor microphone was asked for.')
  let last: unknown
  for (const constraints of attempts) {
    try {
      const stream = cancellable(await webrtc.getUserMedia(constraints), signal)
      const devices = (await webrtc.enumerateDevices?.().catch(() => [])) ?? []
      cancellable(stream, signal)
      return {
        stream,
        audio: stream.getAudioTracks()[0] ?? null,
        video: stream.getVideoTracks()[0] ?? null,
        devices,
      }
    } catch (error) {
      last = error
      if (MediaError.from(error).reason === 'denied') break
    }
  }
  throw MediaError.from(last)
})

/** The camera's constraints: the chosen device, and the quality's size and frame rate. */
function cameraConstraints(deviceId: string | null, capture: MediaTrackConstraints | null): MediaTrackConstraints | boolean {
  if (!deviceId && !capture) return true
  return { ...capture, ...(deviceId ? { deviceId: { exact: deviceId } } : {}) }
}

/** One track from a chosen device, to replace the current one. */
export const acquireDevice = fromPromise<
  MediaStreamTrackLike,
  { webrtc: WebRTCImpl; kind: 'audioinput' | 'videoinput'; deviceId: string; capture: MediaTrackConstraints | null }
>(async ({ input, signal }) => {
  const stream = cancellable(
    await input.webrtc.getUserMedia(
      input.kind === 'audioinput'
        ? { audio: { deviceId: { exact: input.deviceId } } }
        : { video: cameraConstraints(input.deviceId, input.capture) },
    ),
    signal,
  )
  const track = stream.getTracks()[0]
  if (!track) throw new MediaError('unavailable', 'The chosen device gave no track.')
  return track
})

export const acquireScreen = fromPromise<
  { stream: MediaStreamLike; track: MediaStreamTrackLike },
  { webrtc: WebRTCImpl; capture: MediaTrackConstraints | null }
>(async ({ input, signal }) => {
  if (!input.webrtc.getDisplayMedia) throw new MediaError('unavailable', 'Screen sharing is not supported here.')
  const stream = cancellable(await input.webrtc.getDisplayMedia({ video: input.capture ?? true, audio: false }), signal)
  const track = stream.getVideoTracks()[0]
  if (!track) throw new MediaError('unavailable', 'The screen capture gave no video.')
  return { stream, track }
})

/**
 * Owns every track the machine acquires, and stops them all when the media
 * actor stops, however it stops: a parent that is done stops its children
 * without running their exit actions, and a live camera must not outlive
 * the call.
 */
export const trackOwner = fromCallback<{ type: 'own'; tracks: MediaStreamTrackLike[] } | { type: 'releaseAll' }>(({ receive }) => {
  const owned = new Set<MediaStreamTrackLike>()
  const stopAll = () => {
    for (const track of owned) track.stop()
    owned.clear()
  }
  receive((event) => {
    if (event.type === 'releaseAll') stopAll()
    else for (const track of event.tracks) owned.add(track)
  })
  return stopAll
})

/** Lists the devices again whenever one is plugged in or out. */
export const watchDevices = fromCallback<{ type: 'noop' }, { webrtc: WebRTCImpl }>(({ input, sendBack }) => {
  const { webrtc } = input
  return webrtc.watchDevices?.(() => {
    void webrtc.enumerateDevices?.().then(
      (devices) => sendBack({ type: 'devices.listed', devices }),
      () => undefined,
    )
  })
})

/** Reports tracks that end on their own: a device unplugged, or the browser's "Stop sharing" button. */
export const watchTracks = fromCallback<{ type: 'noop' }, { tracks: LocalTracks }>(({ input, sendBack }) => {
  const live = [input.tracks.audio, input.tracks.video, input.tracks.screen].filter((t): t is MediaStreamTrackLike => t !== null)
  const listeners = live.map((track) => {
    const listener = () => sendBack({ type: 'track.ended', track })
    track.addEventListener('ended', listener)
    return () => track.removeEventListener('ended', listener)
  })
  return () => listeners.forEach((remove) => remove())
})

/** Another present device of the ended track's kind, if any. */
function fallbackFor(context: MediaContext, ended: MediaStreamTrackLike): DeviceInfoLike | null {
  const kind = ended.kind === 'audio' ? 'audioinput' : 'videoinput'
  const endedId = ended.getSettings?.().deviceId
  return context.devices.find((d) => d.kind === kind && d.deviceId !== '' && d.deviceId !== endedId) ?? null
}

/**
 * Local media: the camera and microphone (`acquiring`, then `ready`,
 * `denied` or `unavailable`), mute and camera-off, device switching, and the
 * screen share. Without devices the call still works, receive-only.
 *
 * Mute and camera-off flip `track.enabled`: no renegotiation. Switching a
 * device hands the peers a new track to `replaceTrack`. Each change is sent
 * to the parent as `media.tracks`.
 */
export const mediaMachine = setup({
  types: {
    context: {} as MediaContext,
    events: {} as MediaEvent,
    input: {} as MediaInput,
  },
  actors: { acquireMedia, acquireDevice, acquireScreen, watchTracks, watchDevices, trackOwner },
  guards: {
    hasAudio: ({ context }) => context.tracks.audio !== null,
    hasVideo: ({ context }) => context.tracks.video !== null,
    isDenied: ({ event }) => 'error' in event && event.error instanceof MediaError && event.error.reason === 'denied',
    canShareScreen: ({ context }) => typeof context.webrtc.getDisplayMedia === 'function',
    /** A camera or microphone in use ended (unplugged), and another of its kind is there to take over. */
    hasFallback: ({ context, event }) => {
      assertEvent(event, 'track.ended')
      const inUse = event.track === context.tracks.audio || event.track === context.tracks.video
      return inUse && fallbackFor(context, event.track) !== null
    },
    endedScreen: ({ context, event }) => {
      assertEvent(event, 'track.ended')
      return event.track === context.tracks.screen
    },
  },
  actions: {
    notify: sendParent(
      ({ context }) =>
        ({
          type: 'media.tracks',
          tracks: context.tracks,
          mic: context.tracks.audio !== null && context.micEnabled,
          camera: context.tracks.video !== null && context.cameraEnabled,
          screen: context.tracks.screen !== null,
        }) satisfies MediaOutputEvent,
    ),
    toggleMic: assign(({ context }) => {
      const micEnabled = !context.micEnabled
      if (context.tracks.audio) context.tracks.audio.enabled = micEnabled
      return { micEnabled }
    }),
    toggleCamera: assign(({ context }) => {
      const cameraEnabled = !context.cameraEnabled
      if (context.tracks.video) context.tracks.video.enabled = cameraEnabled
      return { cameraEnabled }
    }),
    /** Takes another device of the ended track's kind: the call goes on. */
    fallBack: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'track.ended')
      const device = fallbackFor(context, event.track)
      if (!device) return
      context.log.info('device ended: taking another', { kind: device.kind, label: device.label })
      enqueue.assign({ fallback: { kind: device.kind as 'audioinput' | 'videoinput', to: device.label || null, at: Date.now() } })
      enqueue.raise({ type: 'ui.selectDevice', kind: device.kind as 'audioinput' | 'videoinput', deviceId: device.deviceId })
    }),
    noteLost: assign(({ event }) => {
      assertEvent(event, 'track.ended')
      return {
        fallback: { kind: event.track.kind === 'audio' ? ('audioinput' as const) : ('videoinput' as const), to: null, at: Date.now() },
      }
    }),
    dropEndedTrack: assign(({ context, event }) => {
      assertEvent(event, 'track.ended')
      context.log.info('local track ended', { kind: event.track.kind })
      const { tracks } = context
      const stream = tracks.stream
      if (stream?.getTrackById(event.track.id)) stream.removeTrack(event.track)
      return {
        tracks: {
          ...tracks,
          audio: tracks.audio === event.track ? null : tracks.audio,
          video: tracks.video === event.track ? null : tracks.video,
        },
      }
    }),
    setCapture: assign(({ event }) => {
      assertEvent(event, 'media.setCapture')
      return { capture: event.capture }
    }),
    /**
     * The live camera and screen take the new constraints in place, as far
     * as their sources allow (a browser can scale a track down, not past the
     * format its device was opened with: that comes at the next opening, a
     * device switch or the next call). Nothing is renegotiated.
     */
    applyCapture: ({ context }) => {
      const { video, screen } = context.tracks
      for (const [track, constraints] of [
        [video, context.capture.camera],
        [screen, context.capture.screen],
      ] as const) {
        track?.applyConstraints?.(constraints ?? {}).catch((error: unknown) => {
          context.log.warn('capture constraints not applied', { kind: track.kind, error: String(error) })
        })
      }
    },
    takeMedia: assign(({ context }, acquired: AcquiredMedia) => ({
      tracks: { ...context.tracks, stream: acquired.stream, audio: acquired.audio, video: acquired.video },
      devices: acquired.devices,
      problem: null,
    })),
    reportDenied: assign({ problem: { reason: 'denied', message: 'Camera and microphone permission was refused.' } }),
    reportUnavailable: assign({ problem: { reason: 'unavailable', message: 'No camera or microphone was found.' } }),
    takeDevice: enqueueActions(({ context, enqueue }, { track }: { track: MediaStreamTrackLike }) => {
      const isAudio = track.kind === 'audio'
      const old = isAudio ? context.tracks.audio : context.tracks.video
      track.enabled = isAudio ? context.micEnabled : context.cameraEnabled
      const stream = context.tracks.stream
      if (stream) {
        if (old) stream.removeTrack(old)
        stream.addTrack(track)
      }
      old?.stop()
      enqueue.assign({
        tracks: { ...context.tracks, [isAudio ? 'audio' : 'video']: track },
        [isAudio ? 'audioDeviceId' : 'videoDeviceId']: track.getSettings?.().deviceId ?? null,
      })
    }),
    logSwitchFailed: ({ context }, { error }: { error: unknown }) => context.log.warn('device switch failed', { error: String(error) }),
    takeScreen: assign(({ context }, screen: { stream: MediaStreamLike; track: MediaStreamTrackLike }) => ({
      tracks: { ...context.tracks, screen: screen.track, screenStream: screen.stream },
    })),
    logScreenNotStarted: ({ context }, { error }: { error: unknown }) =>
      context.log.info('screen share not started', { error: String(error) }),
    stopScreen: enqueueActions(({ context, enqueue }) => {
      context.tracks.screen?.stop()
      enqueue.assign({ tracks: { ...context.tracks, screen: null, screenStream: null } })
    }),
    stopAll: sendTo('owner', { type: 'releaseAll' }),
    own: sendTo('owner', ({ context }) => ({
      type: 'own' as const,
      tracks: [context.tracks.audio, context.tracks.video, context.tracks.screen].filter((t): t is MediaStreamTrackLike => t !== null),
    })),
  },
}).createMachine({
  id: 'media',
  type: 'parallel',
  context: ({ input }) => ({
    webrtc: input.webrtc,
    log: input.log.child({ subsystem: 'media' }),
    want: input.want ?? { audio: true, video: true },
    tracks: NO_TRACKS,
    micEnabled: true,
    cameraEnabled: true,
    audioDeviceId: input.audioDeviceId ?? null,
    videoDeviceId: input.videoDeviceId ?? null,
    capture: input.capture ?? { camera: null, screen: null },
    devices: [],
    problem: null,
    fallback: null,
  }),
  invoke: [
    { id: 'owner', src: 'trackOwner' },
    { src: 'watchDevices', input: ({ context }) => ({ webrtc: context.webrtc }) },
  ],
  on: {
    'media.release': { actions: 'stopAll' },
    'track.ended': [
      { guard: 'endedScreen', target: '.screen.off' },
      // A camera or microphone unplugged: take another if there is one, so the call goes on with it.
      { guard: 'hasFallback', actions: ['dropEndedTrack', 'notify', 'fallBack'] },
      { actions: ['dropEndedTrack', 'notify', 'noteLost'] },
    ],
    'devices.listed': { actions: assign({ devices: ({ event }) => event.devices }) },
    'media.setCapture': { actions: ['setCapture', 'applyCapture'] },
  },
  states: {
    devices: {
      initial: 'acquiring',
      states: {
        acquiring: {
          invoke: {
            src: 'acquireMedia',
            input: ({ context }) => ({
              webrtc: context.webrtc,
              want: context.want,
              audioDeviceId: context.audioDeviceId,
              videoDeviceId: context.videoDeviceId,
              capture: context.capture.camera,
            }),
            onDone: { target: 'ready', actions: [{ type: 'takeMedia', params: ({ event }) => event.output }, 'own', 'notify'] },
            onError: [
              { guard: 'isDenied', target: 'denied', actions: 'reportDenied' },
              { target: 'unavailable', actions: 'reportUnavailable' },
            ],
          },
        },
        ready: {
          invoke: { src: 'watchTracks', input: ({ context }) => ({ tracks: { ...context.tracks, screen: null } }) },
          on: {
            'ui.toggleMic': { guard: 'hasAudio', actions: ['toggleMic', 'notify'] },
            'ui.toggleCamera': { guard: 'hasVideo', actions: ['toggleCamera', 'notify'] },
            'ui.selectDevice': 'switching',
          },
        },
        switching: {
          invoke: {
            src: 'acquireDevice',
            input: ({ context, event }) => {
              assertEvent(event, 'ui.selectDevice')
              return { webrtc: context.webrtc, kind: event.kind, deviceId: event.deviceId, capture: context.capture.camera }
            },
            onDone: {
              target: 'ready',
              actions: [{ type: 'takeDevice', params: ({ event }) => ({ track: event.output }) }, 'own', 'notify'],
            },
            onError: { target: 'ready', actions: { type: 'logSwitchFailed', params: ({ event }) => ({ error: event.error }) } },
          },
        },
        // The parent hears of these too: the call goes on receive-only.
        denied: { entry: 'notify', on: { 'ui.retryMedia': 'acquiring' } },
        unavailable: { entry: 'notify', on: { 'ui.retryMedia': 'acquiring' } },
      },
    },
    screen: {
      initial: 'off',
      states: {
        off: {
          on: { 'ui.startScreen': { guard: 'canShareScreen', target: 'starting' } },
        },
        starting: {
          invoke: {
            src: 'acquireScreen',
            input: ({ context }) => ({ webrtc: context.webrtc, capture: context.capture.screen }),
            onDone: { target: 'on', actions: [{ type: 'takeScreen', params: ({ event }) => event.output }, 'own', 'notify'] },
            onError: { target: 'off', actions: { type: 'logScreenNotStarted', params: ({ event }) => ({ error: event.error }) } },
          },
          on: { 'ui.stopScreen': 'off' },
        },
        on: {
          invoke: { src: 'watchTracks', input: ({ context }) => ({ tracks: { ...NO_TRACKS, screen: context.tracks.screen } }) },
          on: { 'ui.stopScreen': 'off' },
          exit: ['stopScreen', 'notify'],
        },
      },
    },
  },
})
