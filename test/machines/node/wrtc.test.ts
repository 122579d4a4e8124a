import wrtc from '@roamhq/wrtc'
import { afterEach, describe, expect, it } from 'vitest'
import { activeSyntheticTracks, stopAllSynthetic } from '../../../machines/node/syntheticMedia'
import { nodeWebRTC, type NodeWebRTCOptions } from '../../../machines/node/wrtc'

const webrtc = nodeWebRTC()
const cleanups: (() => void)[] = []

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup()
  await waitFor('synthetic generators to stop', () => activeSyntheticTracks() === 0, 2_000)
})

function peer(): RTCPeerConnection {
  const pc = new webrtc.RTCPeerConnection()
  cleanups.push(() => pc.close())
  return pc
}

async function media(constraints: MediaStreamConstraints, impl = webrtc): Promise<MediaStream> {
  const stream = await impl.getUserMedia(constraints)
  cleanups.push(() => stream.getTracks().forEach((track) => track.stop()))
  return stream
}

type VideoFrameEvent = { frame: { width: number; height: number; data: Uint8Array } }
type AudioDataEvent = { samples: Int16Array; sampleRate: number; numberOfFrames: number }

function videoSink(track: MediaStreamTrack, onFrame: (event: VideoFrameEvent) => void): void {
  const sink = new wrtc.nonstandard.RTCVideoSink(track)
  sink.onframe = onFrame
  cleanups.push(() => sink.stop())
}

function audioSink(track: MediaStreamTrack, onData: (event: AudioDataEvent) => void): void {
  const sink = new wrtc.nonstandard.RTCAudioSink(track)
  sink.ondata = onData
  cleanups.push(() => sink.stop())
}

async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

function local(pc: RTCPeerConnection): RTCSessionDescriptionInit {
  const description = pc.localDescription
  if (description === null) throw new Error('no local description')
  return { type: description.type, sdp: description.sdp }
}

const DESCRIPTION_ATTRIBUTES = [
  'localDescription',
  'currentLocalDescription',
  'pendingLocalDescription',
  'remoteDescription',
  'currentRemoteDescription',
  'pendingRemoteDescription',
] as const

function ufragOf(description: RTCSessionDescriptionInit): string | undefined {
  return /^a=ice-ufrag:(\S+)/m.exec(description.sdp ?? '')?.[1]
}

/** Offer from `offerer`, answer from `answerer`, both with parameterless setLocalDescription(). */
async function negotiate(offerer: RTCPeerConnection, answerer: RTCPeerConnection): Promise<void> {
  await offerer.setLocalDescription()
  await answerer.setRemoteDescription(local(offerer))
  await answerer.setLocalDescription()
  await offerer.setRemoteDescription(local(answerer))
}

/**
 * Trickles candidates both ways, holding each until the far side has a
 * remote description; returns the candidates each side sent and any errors.
 */
function link(a: RTCPeerConnection, b: RTCPeerConnection) {
  const sent = new Map<RTCPeerConnection, RTCIceCandidateInit[]>([
    [a, []],
    [b, []],
  ])
  const errors: unknown[] = []
  for (const [from, to] of [
    [a, b],
    [b, a],
  ]) {
    from.addEventListener('icecandidate', ({ candidate }) => {
      if (candidate === null) return
      sent.get(from)?.push(candidate.toJSON())
      void waitFor('a remote description', () => to.remoteDescription !== null || to.signalingState === 'closed')
        .then(() => to.addIceCandidate(candidate))
        .catch((error: unknown) => errors.push(error))
    })
  }
  return { sent, errors }
}

function negotiatedChannels(a: RTCPeerConnection, b: RTCPeerConnection): [RTCDataChannel, RTCDataChannel] {
  const init = { negotiated: true, id: 0 }
  return [a.createDataChannel('meshcall', init), b.createDataChannel('meshcall', init)]
}

async function roundTrip([from, to]: [RTCDataChannel, RTCDataChannel], text: string): Promise<string> {
  await waitFor('both channels to open', () => from.readyState === 'open' && to.readyState === 'open')
  to.onmessage = ({ data }) => to.send(`echo ${String(data)}`)
  const echo = new Promise<string>((resolve) => (from.onmessage = ({ data }) => resolve(String(data))))
  from.send(text)
  return within('the echo', echo, 5_000)
}

async function within<T>(what: string, promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

async function connectedPair() {
  const [a, b] = [peer(), peer()]
  const trickle = link(a, b)
  const channels = negotiatedChannels(a, b)
  await negotiate(a, b)
  await waitFor('both peers connected', () => bothConnected(a, b))
  return { a, b, channels, ...trickle }
}

function bothConnected(a: RTCPeerConnection, b: RTCPeerConnection): boolean {
  return a.connectionState === 'connected' && b.connectionState === 'connected'
}

async function transportOf(pc: RTCPeerConnection): Promise<{ iceLocalUsernameFragment?: string; iceState?: string }> {
  const stats = await pc.getStats()
  return [...stats.values()].find((stat) => stat.type === 'transport') ?? {}
}

describe('nodeWebRTC RTCPeerConnection', () => {
  it('the binding alone lacks parameterless setLocalDescription and implicit rollback', async () => {
    const [a, b] = [peer(), peer()]
    a.addTransceiver('audio')
    b.addTransceiver('audio')
    const nativeSetLocal: (this: RTCPeerConnection, description?: RTCLocalSessionDescriptionInit) => Promise<void> =
      wrtc.RTCPeerConnection.prototype.setLocalDescription
    const nativeSetRemote: (this: RTCPeerConnection, description: RTCSessionDescriptionInit) => Promise<void> =
      wrtc.RTCPeerConnection.prototype.setRemoteDescription
    await expect(nativeSetLocal.call(a)).rejects.toThrow('Expected an object')

    await Promise.all([a.setLocalDescription(), b.setLocalDescription()])
    await expect(nativeSetRemote.call(a, local(b))).rejects.toThrow(/wrong state: have-local-offer/)
  })

  it('setLocalDescription() makes an offer in stable and an answer in have-remote-offer', async () => {
    const [a, b] = [peer(), peer()]
    a.addTransceiver('audio')

    await a.setLocalDescription()
    expect(a.signalingState).toBe('have-local-offer')
    expect(a.localDescription?.type).toBe('offer')

    await b.setRemoteDescription(local(a))
    await b.setLocalDescription()
    expect(b.signalingState).toBe('stable')
    expect(b.localDescription?.type).toBe('answer')
  })

  it('a remote offer in have-local-offer rolls the local offer back (glare, polite side)', async () => {
    const [polite, impolite] = [peer(), peer()]
    polite.addTransceiver('audio')
    impolite.addTransceiver('video')
    await Promise.all([polite.setLocalDescription(), impolite.setLocalDescription()])

    await polite.setRemoteDescription(local(impolite))
    expect(polite.signalingState).toBe('have-remote-offer')
    expect(polite.pendingLocalDescription).toBeNull()

    await polite.setLocalDescription()
    expect(polite.localDescription?.type).toBe('answer')
    await impolite.setRemoteDescription(local(polite))
    expect([polite.signalingState, impolite.signalingState]).toEqual(['stable', 'stable'])
  })

  it('keeps the pending and current descriptions as webrtc-pc sets them, without reading the binding', async () => {
    const [a, b] = [peer(), peer()]
    a.addTransceiver('audio')
    b.addTransceiver('video')
    const all = (pc: RTCPeerConnection) => ({
      local: pc.localDescription?.type ?? null,
      pendingLocal: pc.pendingLocalDescription?.type ?? null,
      currentLocal: pc.currentLocalDescription?.type ?? null,
      remote: pc.remoteDescription?.type ?? null,
      pendingRemote: pc.pendingRemoteDescription?.type ?? null,
      currentRemote: pc.currentRemoteDescription?.type ?? null,
    })
    // The binding's getters serialize libwebrtc's description on the JS
    // thread while the signaling thread may free it; they must never run.
    const nativeReads: string[] = []
    for (const pc of [a, b]) {
      const native = (pc as unknown as { _pc: object })._pc
      for (const name of DESCRIPTION_ATTRIBUTES) {
        const getter = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(native), name)?.get
        expect(getter, `the binding has a ${name} getter to watch`).toBeTypeOf('function')
        Object.defineProperty(native, name, {
          get() {
            nativeReads.push(name)
            return getter?.call(this)
          },
        })
      }
    }

    await a.setLocalDescription()
    const offer = local(a)
    expect(all(a)).toEqual({
      local: 'offer',
      pendingLocal: 'offer',
      currentLocal: null,
      remote: null,
      pendingRemote: null,
      currentRemote: null,
    })
    expect(a.localDescription?.sdp).toBe(offer.sdp)

    await b.setRemoteDescription(offer)
    expect(all(b)).toEqual({
      local: null,
      pendingLocal: null,
      currentLocal: null,
      remote: 'offer',
      pendingRemote: 'offer',
      currentRemote: null,
    })
    await b.setLocalDescription()
    const answer = local(b)
    expect(all(b)).toEqual({
      local: 'answer',
      pendingLocal: null,
      currentLocal: 'answer',
      remote: 'offer',
      pendingRemote: null,
      currentRemote: 'offer',
    })
    expect(b.currentRemoteDescription?.sdp).toBe(offer.sdp)

    await a.setRemoteDescription(answer)
    expect(all(a)).toEqual({
      local: 'offer',
      pendingLocal: null,
      currentLocal: 'offer',
      remote: 'answer',
      pendingRemote: null,
      currentRemote: 'answer',
    })
    expect(a.currentLocalDescription?.sdp).toBe(offer.sdp)

    // Glare on a renegotiation: b's offer meets a's; a rolls its own back.
    b.addTransceiver('audio')
    a.restartIce()
    await Promise.all([a.setLocalDescription(), b.setLocalDescription()])
    expect(all(a).pendingLocal).toBe('offer')
    await a.setRemoteDescription(local(b))
    expect(all(a)).toEqual({
      local: 'offer',
      pendingLocal: null,
      currentLocal: 'offer',
      remote: 'offer',
      pendingRemote: 'offer',
      currentRemote: 'answer',
    })
    await b.setLocalDescription({ type: 'rollback' })
    expect(all(b)).toEqual({
      local: 'answer',
      pendingLocal: null,
      currentLocal: 'answer',
      remote: 'offer',
      pendingRemote: null,
      currentRemote: 'offer',
    })
    // setLocalDescription(rollback) in have-remote-offer rolls the remote offer back.
    await a.setLocalDescription({ type: 'rollback' })
    expect(all(a)).toEqual({
      local: 'offer',
      pendingLocal: null,
      currentLocal: 'offer',
      remote: 'answer',
      pendingRemote: null,
      currentRemote: 'answer',
    })
    expect([a.signalingState, b.signalingState]).toEqual(['stable', 'stable'])

    a.close()
    expect(a.currentLocalDescription?.sdp, 'close() keeps the descriptions').toBe(offer.sdp)
    expect(nativeReads).toEqual([])
  })

  it('a remote offer queued behind setLocalDescription() runs after it and rolls its offer back', async () => {
    const [a, b] = [peer(), peer()]
    a.addTransceiver('audio')
    b.addTransceiver('audio')
    await b.setLocalDescription()
    const remoteOffer = local(b)
    const order: string[] = []

    const making = a.setLocalDescription()
    const applying = a.setRemoteDescription(remoteOffer)
    void making.then(() => order.push(`local ${a.localDescription?.type} in ${a.signalingState}`))
    void applying.then(() => order.push(`remote offer in ${a.signalingState}`))
    await Promise.all([making, applying])

    expect(order).toEqual(['local offer in have-local-offer', 'remote offer in have-remote-offer'])
    expect(a.pendingLocalDescription).toBeNull()
    expect(a.remoteDescription?.sdp).toBe(remoteOffer.sdp)
    await a.setLocalDescription()
    expect(a.localDescription?.type).toBe('answer')
  })

  it('two peers connect with synthetic video, audio and a negotiated data channel', async () => {
    const [a, b] = [peer(), peer()]
    const { errors } = link(a, b)
    const stream = await media({ audio: true, video: true })
    for (const track of stream.getTracks()) a.addTrack(track, stream)
    const channels = negotiatedChannels(a, b)
    const received = { frames: 0, audioChunks: 0, width: 0 }
    b.addEventListener('track', ({ track }) => {
      if (track.kind === 'video') {
        videoSink(track, ({ frame }) => {
          received.frames += 1
          received.width = frame.width
        })
      } else {
        audioSink(track, () => (received.audioChunks += 1))
      }
    })

    await negotiate(a, b)
    await waitFor('both peers connected', () => bothConnected(a, b))
    await waitFor('10 video frames and some audio', () => received.frames >= 10 && received.audioChunks > 0)

    expect(received.width).toBe(320)
    expect(await roundTrip(channels, 'hello')).toBe('echo hello')
    expect(errors).toEqual([])
  })

  it('restartIce after connecting fires negotiationneeded, changes the ufrag and reconnects', async () => {
    const { a, b, channels } = await connectedPair()
    const before = { a: ufragOf(local(a)), b: ufragOf(local(b)) }
    let negotiationNeeded = false
    a.addEventListener('negotiationneeded', () => (negotiationNeeded = true))

    a.restartIce()
    await waitFor('negotiationneeded', () => negotiationNeeded)
    await negotiate(a, b)

    const after = { a: ufragOf(local(a)), b: ufragOf(local(b)) }
    expect(after.a).not.toBe(before.a)
    expect(after.b).not.toBe(before.b)
    await waitFor('ICE connected with the new ufrag', async () => {
      const transport = await transportOf(a)
      return transport.iceLocalUsernameFragment === after.a && transport.iceState === 'connected'
    })
    expect(a.connectionState).toBe('connected')
    expect(await roundTrip(channels, 'after restart')).toBe('echo after restart')
  })

  it('negotiationneeded raised during setRemoteDescription(answer) is delivered after it resolves', async () => {
    const [a, b] = [peer(), peer()]
    a.addTransceiver('audio')
    await a.setLocalDescription()
    await b.setRemoteDescription(local(a))
    await b.setLocalDescription()
    const order: string[] = []
    a.addEventListener('negotiationneeded', () => order.push(`negotiationneeded in ${a.signalingState}`))

    // Added in have-local-offer, so libwebrtc raises it on returning to stable.
    a.addTransceiver('video')
    await a.setRemoteDescription(local(b))
    order.push('answer applied')
    await waitFor('negotiationneeded', () => order.length === 2)

    // The binding alone delivers it before the setRemoteDescription promise resolves.
    expect(order).toEqual(['answer applied', 'negotiationneeded in stable'])
  })

  it('negotiationneeded for a change already in an offer in flight is not fired after the answer', async () => {
    const [a, b] = [peer(), peer()]
    const events: string[] = []
    a.addEventListener('negotiationneeded', () => events.push(`negotiationneeded in ${a.signalingState}`))

    a.addTransceiver('audio')
    await negotiate(a, b)
    events.push('video added')
    a.addTransceiver('video')
    await waitFor('negotiationneeded for the video', () => events.length >= 2)

    // The binding alone fires the first one too, with the offer already in flight.
    expect(events).toEqual(['video added', 'negotiationneeded in stable'])
  })

  it('addIceCandidate rejects a candidate from before an ICE restart (OperationError); the binding accepts it', async () => {
    const { a, b, sent } = await connectedPair()
    const stale = sent.get(b)?.[0]
    expect(stale?.usernameFragment).toBe(ufragOf(local(b)))

    b.restartIce()
    await negotiate(b, a)
    expect(ufragOf(local(b))).not.toBe(stale?.usernameFragment)

    await expect(a.addIceCandidate(stale)).rejects.toMatchObject({ name: 'OperationError' })
    const nativeAddIceCandidate: (this: RTCPeerConnection, candidate?: RTCIceCandidateInit) => Promise<void> =
      wrtc.RTCPeerConnection.prototype.addIceCandidate
    await expect(nativeAddIceCandidate.call(a, stale)).resolves.toBeUndefined()
    await expect(a.addIceCandidate({ ...stale, usernameFragment: ufragOf(local(b)) })).resolves.toBeUndefined()
  })

  it('addIceCandidate rejects without a remote description and for an unknown mid', async () => {
    const { a, b, sent } = await connectedPair()
    const candidate = sent.get(b)?.[0]
    const fresh = peer()

    await expect(fresh.addIceCandidate(candidate)).rejects.toMatchObject({ name: 'InvalidStateError' })
    const unknownMid = { ...candidate, sdpMid: 'nope' }
    await expect(a.addIceCandidate(unknownMid)).rejects.toMatchObject({ name: 'OperationError' })
    await expect(a.addIceCandidate({ candidate: candidate?.candidate })).rejects.toThrow(TypeError)
  })

  it('addIceCandidate takes a null sdpMid or sdpMLineIndex; the binding rejects them', async () => {
    const { a, b, sent } = await connectedPair()
    const candidate = sent.get(b)?.[0]
    const nativeAddIceCandidate: (this: RTCPeerConnection, candidate?: RTCIceCandidateInit) => Promise<void> =
      wrtc.RTCPeerConnection.prototype.addIceCandidate

    await expect(nativeAddIceCandidate.call(a, { ...candidate, sdpMLineIndex: null })).rejects.toThrow('32-bit integer')
    await expect(nativeAddIceCandidate.call(a, { ...candidate, sdpMid: null })).rejects.toThrow('Failed to set ICE')
    await expect(a.addIceCandidate({ ...candidate, sdpMLineIndex: null })).resolves.toBeUndefined()
    await expect(a.addIceCandidate({ ...candidate, sdpMid: null })).resolves.toBeUndefined()
  })

  it('setParameters takes getParameters() back and applies active and maxBitrate; the binding rejects them', async () => {
    const [a, b] = [peer(), peer()]
    link(a, b)
    const stream = await media({ audio: true, video: true })
    for (const track of stream.getTracks()) a.addTrack(track, stream)
    let frames = 0
    let lastFrameAt = 0
    b.addEventListener('track', ({ track }) => {
      if (track.kind !== 'video') return
      videoSink(track, () => {
        frames += 1
        lastFrameAt = Date.now()
      })
    })
    await negotiate(a, b)
    await waitFor('frames', () => frames >= 3)

    const nativeSetParameters = wrtc.RTCRtpSender.prototype.setParameters
    for (const sender of a.getSenders()) {
      const name = sender.track?.kind === 'video' ? 'InvalidStateError' : 'InvalidModificationError'
      const unchanged = sender.getParameters()
      await expect(nativeSetParameters.call(sender, unchanged)).rejects.toMatchObject({ name, message: '' })
      await expect(sender.setParameters(sender.getParameters())).resolves.toBeUndefined()
    }

    const audio = senderOf(a, 'audio')
    const capped = audio.getParameters()
    capped.encodings[0] = { ...capped.encodings[0], maxBitrate: 32_000 }
    await audio.setParameters(capped)
    expect(audio.getParameters().encodings[0]).toMatchObject({ maxBitrate: 32_000 })

    const video = senderOf(a, 'video')
    const paused = video.getParameters()
    paused.encodings[0] = { ...paused.encodings[0], active: false, maxBitrate: 200_000 }
    await video.setParameters(paused)
    expect(video.getParameters().encodings[0]).toMatchObject({ active: false, maxBitrate: 200_000 })
    await waitFor('frames to stop for 300 ms', () => Date.now() - lastFrameAt > 300, 5_000)

    const resumed = video.getParameters()
    resumed.encodings[0] = { ...resumed.encodings[0], active: true }
    await video.setParameters(resumed)
    const before = frames
    await waitFor('frames to resume', () => frames > before + 3)
  })
})

function senderOf(pc: RTCPeerConnection, kind: string): RTCRtpSender {
  const sender = pc.getSenders().find(({ track }) => track?.kind === kind)
  if (sender === undefined) throw new Error(`no ${kind} sender`)
  return sender
}

describe('synthetic media', () => {
  const withDevices = (devices: NodeWebRTCOptions['devices']) => nodeWebRTC({ devices })

  it('getUserMedia with neither audio nor video is a TypeError', async () => {
    await expect(webrtc.getUserMedia({})).rejects.toThrow(TypeError)
    await expect(webrtc.getUserMedia({ audio: false, video: false })).rejects.toThrow(TypeError)
  })

  it('devices "denied" rejects NotAllowedError and hides device ids and labels', async () => {
    const denied = withDevices('denied')
    await expect(denied.getUserMedia({ audio: true })).rejects.toMatchObject({ name: 'NotAllowedError' })
    await expect(denied.getDisplayMedia()).rejects.toMatchObject({ name: 'NotAllowedError' })
    const devices = await denied.enumerateDevices()
    expect(devices.map(({ kind, deviceId, label }) => [kind, deviceId, label])).toEqual([
      ['videoinput', '', ''],
      ['audioinput', '', ''],
    ])
  })

  it('devices "none" rejects NotFoundError and lists no devices', async () => {
    const none = withDevices('none')
    await expect(none.getUserMedia({ audio: true, video: true })).rejects.toMatchObject({ name: 'NotFoundError' })
    expect(await none.enumerateDevices()).toEqual([])
  })

  it('devices "audio-only" rejects video with NotFoundError and gives audio', async () => {
    const audioOnly = withDevices('audio-only')
    const both = audioOnly.getUserMedia({ audio: true, video: true })
    await expect(both).rejects.toMatchObject({ name: 'NotFoundError' })
    const stream = await media({ audio: true }, audioOnly)
    expect(stream.getTracks().map((track) => track.kind)).toEqual(['audio'])
    expect((await audioOnly.enumerateDevices()).map((device) => device.kind)).toEqual(['audioinput'])
  })

  it('enumerateDevices lists one synthetic camera and one microphone', async () => {
    const devices = await nodeWebRTC({ label: 'alice' }).enumerateDevices()
    expect(devices.map((device) => device.toJSON())).toEqual([
      { kind: 'videoinput', deviceId: 'synthetic-camera', groupId: 'synthetic', label: 'alice camera' },
      { kind: 'audioinput', deviceId: 'synthetic-microphone', groupId: 'synthetic', label: 'alice microphone' },
    ])
  })

  it('the camera sends moving I420 frames of the set size, the microphone a tone in 10 ms chunks', async () => {
    const impl = nodeWebRTC({ width: 160, height: 90, fps: 30, label: 'bob' })
    const stream = await media({ audio: true, video: true }, impl)
    const [video] = stream.getVideoTracks()
    const [audio] = stream.getAudioTracks()
    expect([video.label, audio.label]).toEqual(['bob camera', 'bob microphone'])
    expect(video.getSettings()).toMatchObject({ deviceId: 'synthetic-camera', width: 160, height: 90, frameRate: 30 })
    const frames: VideoFrameEvent['frame'][] = []
    const chunks: AudioDataEvent[] = []
    videoSink(video, ({ frame }) => frames.push(frame))
    audioSink(audio, (chunk) => chunks.push(chunk))

    await waitFor('2 frames and 5 audio chunks', () => frames.length >= 2 && chunks.length >= 5)
    expect(frames[0]).toMatchObject({ width: 160, height: 90 })
    expect(frames[0].data.byteLength).toBe(160 * 90 * 1.5)
    expect(Buffer.compare(frames[0].data, frames[1].data)).not.toBe(0)
    expect(chunks[0]).toMatchObject({ sampleRate: 48_000, numberOfFrames: 480 })
    expect(Math.max(...chunks[1].samples)).toBeGreaterThan(1_000)
  })

  it('getDisplayMedia gives a 1280x720 screen track', async () => {
    const stream = await webrtc.getDisplayMedia()
    cleanups.push(() => stream.getTracks().forEach((track) => track.stop()))
    const [screen] = stream.getTracks()
    expect(screen.kind).toBe('video')
    let size: string | undefined
    videoSink(screen, ({ frame }) => (size = `${frame.width}x${frame.height}`))
    await waitFor('a screen frame', () => size !== undefined)
    expect(size).toBe('1280x720')
    await expect(webrtc.getDisplayMedia({ video: false })).rejects.toThrow(TypeError)
  })

  it('stopping a track stops its generator, and stopAllSynthetic stops the rest', async () => {
    const stream = await media({ audio: true, video: true })
    const [video, audio] = [stream.getVideoTracks()[0], stream.getAudioTracks()[0]]
    expect(activeSyntheticTracks()).toBe(2)

    video.stop()
    await waitFor('the video generator to stop', () => activeSyntheticTracks() === 1, 2_000)
    stopAllSynthetic()
    expect(activeSyntheticTracks()).toBe(0)
    expect(audio.readyState).toBe('ended')
  })
})
