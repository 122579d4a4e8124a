import { afterEach, describe, expect, it } from 'vitest'
import { createActor, setup, type ActorRefFrom } from 'xstate'
import { silentLogger } from '../../lib/log'
import { mediaMachine, type CaptureConstraints, type MediaOutputEvent } from '../../machines/mediaMachine'
import { nodeWebRTC, type NodeWebRTCOptions } from '../../machines/node/wrtc'
import { CAPTURE_CONSTRAINTS } from '../../machines/videoQuality'
import type { WebRTCImpl } from '../../machines/webrtc'
import { waitUntil } from '../support/wait'

/** A parent that records what the media actor reports, as the room would. */
function startMedia(devices: NodeWebRTCOptions['devices'] = 'all', options: { webrtc?: WebRTCImpl; capture?: CaptureConstraints } = {}) {
  const reports: MediaOutputEvent[] = []
  const parent = setup({
    types: { events: {} as MediaOutputEvent, context: {} as { media: ActorRefFrom<typeof mediaMachine> } },
    actors: { media: mediaMachine },
  }).createMachine({
    context: ({ spawn }) => ({
      media: spawn('media', {
        input: { webrtc: options.webrtc ?? nodeWebRTC({ devices, label: 'test' }), log: silentLogger, capture: options.capture },
      }),
    }),
    on: { 'media.tracks': { actions: ({ event }) => reports.push(event) } },
  })
  const root = createActor(parent).start()
  started.push(root)
  return { media: root.getSnapshot().context.media, reports }
}
const started: { stop(): void; getSnapshot(): { context: { media: ActorRefFrom<typeof mediaMachine> } } }[] = []

afterEach(() => {
  for (const root of started.splice(0)) {
    root.getSnapshot().context.media.send({ type: 'media.release' })
    root.stop()
  }
})

const devicesState = (media: ActorRefFrom<typeof mediaMachine>) => {
  const value = media.getSnapshot().value
  return typeof value === 'object' && 'devices' in value ? value.devices : value
}

describe('mediaMachine', () => {
  it('acquires camera and microphone and reports them to its parent', async () => {
    const { media, reports } = startMedia()
    await waitUntil(() => devicesState(media) === 'ready', { what: 'ready' })
    const { tracks, devices } = media.getSnapshot().context
    expect(tracks.audio?.kind).toBe('audio')
    expect(tracks.video?.kind).toBe('video')
    expect(tracks.stream?.getTracks()).toHaveLength(2)
    expect(devices.map((d) => d.kind).sort()).toEqual(['audioinput', 'videoinput'])
    expect(reports.at(-1)).toMatchObject({ mic: true, camera: true, screen: false })
  })

  it('mutes and turns the camera off with track.enabled, keeping the same tracks', async () => {
    const { media, reports } = startMedia()
    await waitUntil(() => devicesState(media) === 'ready')
    const { audio, video } = media.getSnapshot().context.tracks
    media.send({ type: 'ui.toggleMic' })
    media.send({ type: 'ui.toggleCamera' })
    expect(audio?.enabled).toBe(false)
    expect(video?.enabled).toBe(false)
    expect(media.getSnapshot().context.tracks.audio).toBe(audio)
    expect(reports.at(-1)).toMatchObject({ mic: false, camera: false })
    media.send({ type: 'ui.toggleMic' })
    expect(audio?.enabled).toBe(true)
    expect(reports.at(-1)).toMatchObject({ mic: true, camera: false })
  })

  it('says denied when permission is refused, and the call can go on receive-only', async () => {
    const { media, reports } = startMedia('denied')
    await waitUntil(() => devicesState(media) === 'denied', { what: 'denied' })
    expect(media.getSnapshot().context.problem).toEqual({ reason: 'denied', message: expect.stringMatching(/permission/) })
    expect(media.getSnapshot().can({ type: 'ui.toggleMic' })).toBe(false)
    // The room hears of it, so it can join receive-only without waiting.
    expect(reports).toEqual([
      { type: 'media.tracks', tracks: expect.objectContaining({ audio: null, video: null }), mic: false, camera: false, screen: false },
    ])
  })

  it('says unavailable with no devices, and can retry', async () => {
    const { media } = startMedia('none')
    await waitUntil(() => devicesState(media) === 'unavailable', { what: 'unavailable' })
    expect(media.getSnapshot().context.problem?.reason).toBe('unavailable')
    expect(media.getSnapshot().can({ type: 'ui.retryMedia' })).toBe(true)
  })

  it('keeps the microphone when there is no camera', async () => {
    const { media, reports } = startMedia('audio-only')
    await waitUntil(() => devicesState(media) === 'ready', { what: 'ready' })
    expect(media.getSnapshot().context.tracks.video).toBeNull()
    expect(media.getSnapshot().can({ type: 'ui.toggleCamera' })).toBe(false)
    expect(reports.at(-1)).toMatchObject({ mic: true, camera: false })
  })

  it('switches a device by replacing the track, and stops the old one', async () => {
    const { media, reports } = startMedia()
    await waitUntil(() => devicesState(media) === 'ready')
    const old = media.getSnapshot().context.tracks.video
    media.send({ type: 'ui.toggleCamera' })
    media.send({ type: 'ui.selectDevice', kind: 'videoinput', deviceId: 'synthetic-camera' })
    await waitUntil(() => media.getSnapshot().context.tracks.video !== old && devicesState(media) === 'ready', { what: 'switched' })
    const next = media.getSnapshot().context.tracks.video
    expect(next?.id).not.toBe(old?.id)
    expect(old?.readyState).toBe('ended')
    // The camera stays off across the switch.
    expect(next?.enabled).toBe(false)
    expect(media.getSnapshot().context.tracks.stream?.getVideoTracks()).toEqual([next])
    expect(reports.at(-1)?.tracks.video).toBe(next)
  })

  it('shares the screen, and stops when the capture ends on its own', async () => {
    const { media, reports } = startMedia()
    await waitUntil(() => devicesState(media) === 'ready')
    media.send({ type: 'ui.startScreen' })
    await waitUntil(() => media.getSnapshot().matches({ screen: 'on' }), { what: 'screen on' })
    const screen = media.getSnapshot().context.tracks.screen
    expect(reports.at(-1)).toMatchObject({ screen: true })
    // The browser's own "Stop sharing" ends the track without our asking.
    screen?.stop()
    screen?.dispatchEvent(new Event('ended'))
    await waitUntil(() => media.getSnapshot().matches({ screen: 'off' }), { what: 'screen off' })
    expect(media.getSnapshot().context.tracks.screen).toBeNull()
    expect(reports.at(-1)).toMatchObject({ screen: false })
  })

  it('asks every camera and screen capture for the low-bandwidth size and frame rate', async () => {
    const asked: { call: string; constraints: unknown }[] = []
    const real = nodeWebRTC({ label: 'test' })
    const webrtc: WebRTCImpl = {
      ...real,
      getUserMedia: (constraints) => (asked.push({ call: 'getUserMedia', constraints }), real.getUserMedia(constraints)),
      getDisplayMedia: (options) => (asked.push({ call: 'getDisplayMedia', constraints: options }), real.getDisplayMedia(options)),
    }
    const low = CAPTURE_CONSTRAINTS.low
    const { media } = startMedia('all', { webrtc, capture: low })
    await waitUntil(() => devicesState(media) === 'ready')
    media.send({ type: 'ui.selectDevice', kind: 'videoinput', deviceId: 'synthetic-camera' })
    await waitUntil(() => asked.length === 2 && devicesState(media) === 'ready', { what: 'the device switch' })
    media.send({ type: 'ui.startScreen' })
    await waitUntil(() => media.getSnapshot().context.tracks.screen !== null, { what: 'the screen share' })
    expect(asked).toEqual([
      { call: 'getUserMedia', constraints: { audio: true, video: low.camera } },
      { call: 'getUserMedia', constraints: { video: { ...low.camera, deviceId: { exact: 'synthetic-camera' } } } },
      { call: 'getDisplayMedia', constraints: { video: low.screen, audio: false } },
    ])
  })
})

describe('mediaMachine and hot-plugged devices', () => {
  /** Synthetic devices with a second camera that can be plugged in, and a `devicechange` the test fires. */
  function pluggable() {
    const base = nodeWebRTC({ label: 'test' })
    let second = false
    const listeners = new Set<() => void>()
    const webrtc: WebRTCImpl = {
      ...base,
      enumerateDevices: async () => {
        const devices = await base.enumerateDevices()
        return second
          ? [...devices, { deviceId: 'usb-camera', kind: 'videoinput', label: 'USB camera', groupId: 'usb' } as MediaDeviceInfo]
          : devices
      },
      watchDevices: (onChange) => {
        listeners.add(onChange)
        return () => listeners.delete(onChange)
      },
    }
    return {
      webrtc,
      plugIn: () => {
        second = true
        for (const listener of listeners) listener()
      },
    }
  }

  it('lists a camera plugged in mid-call, and takes it when the camera in use is unplugged, keeping the call going', async () => {
    const { webrtc, plugIn } = pluggable()
    const { media, reports } = startMedia('all', { webrtc })
    await waitUntil(() => devicesState(media) === 'ready')
    expect(media.getSnapshot().context.devices.filter((d) => d.kind === 'videoinput')).toHaveLength(1)
    plugIn()
    await waitUntil(() => media.getSnapshot().context.devices.some((d) => d.deviceId === 'usb-camera'), { what: 'the USB camera listed' })
    // The camera in use goes away (its track ends by itself, as when unplugged).
    const old = media.getSnapshot().context.tracks.video!
    old.stop()
    old.dispatchEvent(new Event('ended'))
    await waitUntil(
      () => {
        const { tracks } = media.getSnapshot().context
        return tracks.video !== null && tracks.video !== old && devicesState(media) === 'ready'
      },
      { what: 'another camera taken' },
    )
    expect(media.getSnapshot().context.fallback).toMatchObject({ kind: 'videoinput', to: 'USB camera' })
    expect(reports.at(-1)).toMatchObject({ camera: true })
    expect(media.getSnapshot().context.tracks.stream?.getVideoTracks()).toEqual([media.getSnapshot().context.tracks.video])
  })

  it('says the device is gone when there is no other, and goes on without it', async () => {
    const { media, reports } = startMedia()
    await waitUntil(() => devicesState(media) === 'ready')
    const old = media.getSnapshot().context.tracks.audio!
    old.stop()
    old.dispatchEvent(new Event('ended'))
    await waitUntil(() => media.getSnapshot().context.fallback !== null, { what: 'the loss noted' })
    expect(media.getSnapshot().context.fallback).toMatchObject({ kind: 'audioinput', to: null })
    expect(media.getSnapshot().context.tracks.audio).toBeNull()
    expect(reports.at(-1)).toMatchObject({ mic: false, camera: true })
  })
})
