import { describe, expect, it } from 'vitest'
import type { SimulatedDataChannel } from './simulated/dataChannel'
import type { SimulatedPeerConnection } from './simulated/peerConnection'
import { createSimulatedNetwork, type SimulatedNetwork } from './simulatedWebRTC'

/** The simulated connection behind a `new impl.RTCPeerConnection()`. */
function open(net: SimulatedNetwork, label: string): SimulatedPeerConnection {
  const before = net.connections(label).length
  new (net.webrtc(label).RTCPeerConnection)()
  const pc = net.connections(label)[before]
  if (!pc) throw new Error('no connection')
  return pc
}

async function tracks(net: SimulatedNetwork, label: string) {
  const stream = await net.webrtc(label).getUserMedia({ audio: true, video: true })
  return { stream, audio: stream.getAudioTracks()[0], video: stream.getVideoTracks()[0] }
}

type Message = { description?: RTCSessionDescriptionInit; candidate?: RTCIceCandidateInit | null }

/** Mulberry32: a small seeded PRNG. */
function prng(seed: number) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * The webrtc-pc "perfect negotiation" example, nearly verbatim. Outgoing
 * messages go through `signal` (as JSON); the returned function handles an
 * incoming one. Errors land in `errors`.
 */
function perfectNegotiation(pc: SimulatedPeerConnection, polite: boolean, signal: (message: Message) => void, errors: unknown[]) {
  let makingOffer = false
  let ignoreOffer = false
  let isSettingRemoteAnswerPending = false
  pc.onicecandidate = (event) => {
    const { candidate } = event as Event & { candidate: { toJSON(): RTCIceCandidateInit } | null }
    signal({ candidate: candidate ? candidate.toJSON() : null })
  }
  pc.onnegotiationneeded = async () => {
    try {
      makingOffer = true
      await pc.setLocalDescription()
      signal({ description: pc.localDescription?.toJSON() })
    } catch (err) {
      errors.push(err)
    } finally {
      makingOffer = false
    }
  }
  return async ({ description, candidate }: Message) => {
    try {
      if (description) {
        const readyForOffer = !makingOffer && (pc.signalingState === 'stable' || isSettingRemoteAnswerPending)
        const offerCollision = description.type === 'offer' && !readyForOffer
        ignoreOffer = !polite && offerCollision
        if (ignoreOffer) return
        isSettingRemoteAnswerPending = description.type === 'answer'
        await pc.setRemoteDescription(description)
        isSettingRemoteAnswerPending = false
        if (description.type === 'offer') {
          await pc.setLocalDescription()
          signal({ description: pc.localDescription?.toJSON() })
        }
      } else if (candidate !== undefined) {
        try {
          await pc.addIceCandidate(candidate)
        } catch (err) {
          if (!ignoreOffer) throw err
        }
      }
    } catch (err) {
      errors.push(err)
    }
  }
}

/** Two connections driven by perfect negotiation over queued, in-order signaling. */
function pair(net: SimulatedNetwork) {
  const a = open(net, 'a')
  const b = open(net, 'b')
  const queues: Record<'a' | 'b', Message[]> = { a: [], b: [] }
  const errors: unknown[] = []
  const handle = {
    // JSON both ways: descriptions and candidates must survive the wire.
    a: perfectNegotiation(a, true, (m) => queues.b.push(JSON.parse(JSON.stringify(m))), errors),
    b: perfectNegotiation(b, false, (m) => queues.a.push(JSON.parse(JSON.stringify(m))), errors),
  }
  const channels = {
    a: a.createDataChannel('chat', { negotiated: true, id: 0 }),
    b: b.createDataChannel('chat', { negotiated: true, id: 0 }),
  }
  // Each side handles one message at a time: with concurrent handlers, the
  // example's ignoreOffer can be reset by a later description before an
  // earlier candidate of the ignored offer has failed.
  const busy: Record<'a' | 'b', Promise<void>> = { a: Promise.resolve(), b: Promise.resolve() }
  /** Delivers the next message to `to`, without waiting for it to be handled. */
  const deliver = (to: 'a' | 'b'): boolean => {
    const message = queues[to].shift()
    if (!message) return false
    busy[to] = busy[to].then(() => handle[to](message))
    return true
  }
  const drain = async () => {
    for (let i = 0; i < 1000; i++) {
      await net.settle()
      const moved = deliver('a') || deliver('b')
      if (!moved) {
        await net.settle()
        if (queues.a.length === 0 && queues.b.length === 0) return
      }
    }
    throw new Error('signaling did not drain')
  }
  return { a, b, queues, errors, channels, deliver, drain }
}

function expectConverged(a: SimulatedPeerConnection, b: SimulatedPeerConnection, channels: Record<'a' | 'b', SimulatedDataChannel>) {
  expect(a.signalingState).toBe('stable')
  expect(b.signalingState).toBe('stable')
  expect(a.connectionState).toBe('connected')
  expect(b.connectionState).toBe('connected')
  expect(channels.a.readyState).toBe('open')
  expect(channels.b.readyState).toBe('open')
  expect(a.isNegotiationNeeded()).toBe(false)
  expect(b.isNegotiationNeeded()).toBe(false)
  const view = (pc: SimulatedPeerConnection) =>
    pc
      .getTransceivers()
      .map((t) => ({ mid: t.mid, kind: t.kind, current: t.currentDirection }))
      .sort((x, y) => String(x.mid).localeCompare(String(y.mid)))
  const flip: Record<string, string> = { sendrecv: 'sendrecv', sendonly: 'recvonly', recvonly: 'sendonly', inactive: 'inactive' }
  expect(view(b)).toEqual(view(a).map((t) => ({ ...t, current: t.current === null ? null : flip[t.current] })))
  expect(a.localDescription?.sdp.match(/^m=/gm)?.length).toBe(b.localDescription?.sdp.match(/^m=/gm)?.length)
}

describe('signaling', () => {
  it('setLocalDescription() without argument creates an offer in stable and an answer in have-remote-offer', async () => {
    const net = createSimulatedNetwork()
    const a = open(net, 'a')
    const b = open(net, 'b')
    a.createDataChannel('x', { negotiated: true, id: 0 })
    await a.setLocalDescription()
    expect(a.signalingState).toBe('have-local-offer')
    expect(a.localDescription?.type).toBe('offer')
    // Again in have-local-offer: a new offer.
    await a.setLocalDescription()
    expect(a.pendingLocalDescription?.type).toBe('offer')
    await b.setRemoteDescription(a.localDescription!.toJSON())
    expect(b.signalingState).toBe('have-remote-offer')
    await b.setLocalDescription()
    expect(b.localDescription?.type).toBe('answer')
    expect(b.signalingState).toBe('stable')
    await a.setRemoteDescription(b.localDescription!.toJSON())
    expect(a.signalingState).toBe('stable')
    expect(a.currentRemoteDescription?.sdp).toMatch(/^a=setup:active/m)
    expect(a.currentLocalDescription?.sdp).toMatch(/^a=ice-ufrag:\S+\r$/m)
  })

  it('rolls back, and rejects a remote answer or a rollback in the wrong state', async () => {
    const net = createSimulatedNetwork()
    const a = open(net, 'a')
    await expect(a.setLocalDescription({ type: 'rollback' })).rejects.toMatchObject({ name: 'InvalidStateError' })
    await a.setLocalDescription()
    const offer = a.localDescription!.toJSON()
    await a.setLocalDescription({ type: 'rollback' })
    expect(a.signalingState).toBe('stable')
    expect(a.localDescription).toBeNull()
    const b = open(net, 'b')
    await expect(b.setRemoteDescription({ type: 'answer', sdp: offer.sdp })).rejects.toMatchObject({ name: 'InvalidStateError' })
  })

  it('rolls back implicitly when a remote offer arrives in have-local-offer', async () => {
    const net = createSimulatedNetwork()
    const a = open(net, 'a')
    const b = open(net, 'b')
    const states: string[] = []
    a.onsignalingstatechange = () => states.push(a.signalingState)
    await b.setLocalDescription()
    await a.setLocalDescription()
    await a.setRemoteDescription(b.localDescription!.toJSON())
    expect(a.signalingState).toBe('have-remote-offer')
    expect(states).toEqual(['have-local-offer', 'stable', 'have-remote-offer'])
  })

  it('runs operations in call order: SLD() then SRD(offer) without awaiting ends in have-remote-offer', async () => {
    const net = createSimulatedNetwork()
    const a = open(net, 'a')
    const b = open(net, 'b')
    await b.setLocalDescription()
    const remoteOffer = b.localDescription!.toJSON()
    const first = a.setLocalDescription()
    const second = a.setRemoteDescription(remoteOffer)
    await Promise.all([first, second])
    expect(a.signalingState).toBe('have-remote-offer')
    expect(a.remoteDescription?.sdp).toBe(remoteOffer.sdp)
  })

  it('close() rejects queued operations with InvalidStateError', async () => {
    const net = createSimulatedNetwork()
    const a = open(net, 'a')
    const pending = a.setLocalDescription()
    const queued = a.createOffer()
    a.close()
    await expect(pending).rejects.toMatchObject({ name: 'InvalidStateError' })
    await expect(queued).rejects.toMatchObject({ name: 'InvalidStateError' })
    await expect(a.createOffer()).rejects.toMatchObject({ name: 'InvalidStateError' })
    expect(a.connectionState).toBe('closed')
    expect(a.signalingState).toBe('closed')
  })
})

describe('negotiationneeded', () => {
  it('fires once when stable, and again after a rollback while still needed', async () => {
    const net = createSimulatedNetwork()
    const a = open(net, 'a')
    const { audio, video } = await tracks(net, 'a')
    let fired = 0
    a.onnegotiationneeded = () => fired++
    a.addTrack(audio)
    a.addTrack(video)
    a.createDataChannel('x', { negotiated: true, id: 0 })
    expect(fired).toBe(0) // queued, not synchronous
    await net.settle()
    expect(fired).toBe(1)
    a.addTransceiver('audio')
    await net.settle()
    expect(fired).toBe(1) // the flag is still set
    await a.setLocalDescription()
    await net.settle()
    expect(fired).toBe(1) // not stable
    await a.setLocalDescription({ type: 'rollback' })
    await net.settle()
    expect(fired).toBe(2)
  })

  it('is cleared by a complete exchange and set again by removeTrack and restartIce', async () => {
    const net = createSimulatedNetwork()
    const a = open(net, 'a')
    const b = open(net, 'b')
    const { stream, audio } = await tracks(net, 'a')
    let fired = 0
    a.onnegotiationneeded = () => fired++
    const sender = a.addTrack(audio, stream)
    await net.settle()
    expect(fired).toBe(1)
    await a.setLocalDescription()
    await b.setRemoteDescription(a.localDescription!.toJSON())
    await b.setLocalDescription()
    await a.setRemoteDescription(b.localDescription!.toJSON())
    await net.settle()
    expect(fired).toBe(1)
    expect(a.isNegotiationNeeded()).toBe(false)
    a.removeTrack(sender)
    await net.settle()
    expect(fired).toBe(2)
    await a.setLocalDescription()
    await b.setRemoteDescription(a.localDescription!.toJSON())
    await b.setLocalDescription()
    await a.setRemoteDescription(b.localDescription!.toJSON())
    await net.settle()
    expect(a.isNegotiationNeeded()).toBe(false)
    a.restartIce()
    await net.settle()
    expect(fired).toBe(3)
  })
})

describe('media', () => {
  it('fires track events with msid streams, reuses transceivers, and mutes what stops', async () => {
    const net = createSimulatedNetwork()
    const a = open(net, 'a')
    const b = open(net, 'b')
    const { stream, audio, video } = await tracks(net, 'a')
    const got: { kind: string; streams: string[] }[] = []
    b.ontrack = (event) => {
      const { track, streams } = event as RTCTrackEvent
      got.push({ kind: track.kind, streams: streams.map((s) => s.id) })
    }
    a.addTrack(audio, stream)
    const videoSender = a.addTrack(video, stream)
    // b's own addTrack before the offer: reused for a's m-line of the same kind.
    const bt = await tracks(net, 'b')
    b.addTrack(bt.audio)
    await a.setLocalDescription()
    await b.setRemoteDescription(a.localDescription!.toJSON())
    expect(got).toEqual([
      { kind: 'audio', streams: [stream.id] },
      { kind: 'video', streams: [stream.id] },
    ])
    expect(b.getTransceivers()).toHaveLength(2)
    expect(b.getTransceivers()[0].sender.track).toBe(bt.audio)
    await b.setLocalDescription()
    await a.setRemoteDescription(b.localDescription!.toJSON())
    expect(b.getTransceivers().map((t) => t.currentDirection)).toEqual(['sendrecv', 'recvonly'])
    expect(a.getTransceivers().map((t) => t.currentDirection)).toEqual(['sendrecv', 'sendonly'])
    const remote = b.getTransceivers()[1].receiver.track
    expect(remote.muted).toBe(false)

    a.removeTrack(videoSender)
    await a.setLocalDescription()
    await b.setRemoteDescription(a.localDescription!.toJSON())
    expect(remote.muted).toBe(true)
    await b.setLocalDescription()
    await a.setRemoteDescription(b.localDescription!.toJSON())
    expect(b.getTransceivers()[1].currentDirection).toBe('inactive')
    // A transceiver that has sent is not reused: a new m-line.
    a.addTrack(video, stream)
    expect(a.getTransceivers()).toHaveLength(3)

    await videoSender.replaceTrack(null)
    const params = a.getSenders()[0].getParameters()
    params.encodings[0].maxBitrate = 100_000
    await a.getSenders()[0].setParameters(params)
    expect(a.getSenders()[0].getParameters().encodings[0].maxBitrate).toBe(100_000)
    await expect(a.getSenders()[0].setParameters(params)).rejects.toMatchObject({ name: 'InvalidModificationError' })
  })

  it('getUserMedia fails without devices or permission', async () => {
    const net = createSimulatedNetwork()
    await expect(net.webrtc('x', { devices: 'none' }).getUserMedia({ audio: true })).rejects.toMatchObject({ name: 'NotFoundError' })
    await expect(net.webrtc('x', { devices: 'denied' }).getUserMedia({ video: true })).rejects.toMatchObject({ name: 'NotAllowedError' })
    const devices = await net.webrtc('x').enumerateDevices!()
    expect(devices.map((d) => d.kind)).toEqual(['audioinput', 'videoinput', 'audiooutput'])
    const screen = await net.webrtc('x').getDisplayMedia!()
    expect(screen.getVideoTracks()).toHaveLength(1)
  })
})

describe('perfect negotiation', () => {
  it('connects two connections with tracks on both sides', async () => {
    const net = createSimulatedNetwork()
    const p = pair(net)
    const ta = await tracks(net, 'a')
    const tb = await tracks(net, 'b')
    p.a.addTrack(ta.audio, ta.stream)
    p.a.addTrack(ta.video, ta.stream)
    p.b.addTrack(tb.audio, tb.stream)
    p.b.addTrack(tb.video, tb.stream)
    await p.drain()
    expect(p.errors).toEqual([])
    expectConverged(p.a, p.b, p.channels)
    const messages: unknown[] = []
    p.channels.b.onmessage = (event) => messages.push((event as MessageEvent).data)
    p.channels.a.send('hello')
    await net.settle()
    expect(messages).toEqual(['hello'])
    const stats = await p.a.getStats()
    expect([...stats.values()].find((s) => s.type === 'candidate-pair')).toMatchObject({ state: 'succeeded', nominated: true })
    // close() on one side closes both ends of the channel.
    p.channels.a.close()
    await net.settle()
    expect(p.channels.b.readyState).toBe('closed')
  })

  it('goes disconnected then failed on a partition, and reconnects with an ICE restart after healing', async () => {
    const net = createSimulatedNetwork()
    const p = pair(net)
    await p.drain()
    expectConverged(p.a, p.b, p.channels)
    const states: string[] = []
    p.a.onconnectionstatechange = () => states.push(p.a.connectionState)
    const ufrag = p.a.localDescription?.sdp.match(/a=ice-ufrag:(\S+)/)?.[1]
    net.partition('a', 'b')
    expect(p.a.connectionState).toBe('disconnected')
    await net.advance()
    expect(p.a.connectionState).toBe('failed')
    expect(p.b.connectionState).toBe('failed')
    net.heal('a', 'b')
    await net.advance()
    expect(p.a.connectionState).toBe('failed') // a failed generation stays failed
    p.a.restartIce()
    await p.drain()
    expect(p.errors).toEqual([])
    expect(p.a.localDescription?.sdp.match(/a=ice-ufrag:(\S+)/)?.[1]).not.toBe(ufrag)
    expect(p.a.connectionState).toBe('connected')
    expect(p.b.connectionState).toBe('connected')
    expect(states).toEqual(['disconnected', 'failed', 'connecting', 'connected'])
  })

  it('rejects a candidate of a previous ICE generation with OperationError', async () => {
    const net = createSimulatedNetwork()
    const p = pair(net)
    const candidates: RTCIceCandidateInit[] = []
    p.a.addEventListener('icecandidate', (event) => {
      const { candidate } = event as Event & { candidate: { toJSON(): RTCIceCandidateInit } | null }
      if (candidate) candidates.push(candidate.toJSON())
    })
    await p.drain()
    // Gathering starts at setLocalDescription: one candidate per local ICE generation so far.
    const before = candidates.length
    expect(before).toBeGreaterThan(0)
    p.a.restartIce()
    await p.drain()
    expect(candidates).toHaveLength(before + 1)
    const [old, current] = candidates.slice(-2)
    expect(old.usernameFragment).not.toBe(current.usernameFragment)
    await expect(p.b.addIceCandidate(old)).rejects.toMatchObject({ name: 'OperationError' })
    await p.b.addIceCandidate(current)
    await p.b.addIceCandidate(undefined)
    const fresh = open(net, 'c')
    await expect(fresh.addIceCandidate(current)).rejects.toMatchObject({ name: 'InvalidStateError' })
  })

  it('converges under 1,000 seeded random glare schedules', async () => {
    const started = performance.now()
    let glare = 0
    for (let seed = 1; seed <= 1000; seed++) {
      const random = prng(seed)
      const net = createSimulatedNetwork()
      const p = pair(net)
      const ta = await tracks(net, 'a')
      const tb = await tracks(net, 'b')
      // The polite side rolling back its own offer (stable again, with no answer applied): glare.
      let remoteAtOffer: unknown = null
      let collided = false
      p.a.addEventListener('signalingstatechange', () => {
        if (p.a.signalingState === 'have-local-offer') remoteAtOffer = p.a.currentRemoteDescription
        else if (p.a.signalingState === 'stable' && remoteAtOffer === p.a.currentRemoteDescription) collided = true
      })
      const actions: (() => void)[] = [
        () => p.a.addTrack(ta.audio, ta.stream),
        () => p.a.addTrack(ta.video, ta.stream),
        () => p.b.addTrack(tb.audio, tb.stream),
        () => p.b.addTrack(tb.video, tb.stream),
        () => (random() < 0.3 ? p.a.restartIce() : p.b.restartIce()),
      ]
      for (let step = 0; step < 60; step++) {
        const r = random()
        if (r < 0.12 && actions.length > 0) {
          actions.splice(Math.floor(random() * actions.length), 1)[0]()
        } else if (r < 0.45) {
          p.deliver('a')
        } else if (r < 0.78) {
          p.deliver('b')
        } else if (r < 0.95) {
          const turns = Math.floor(random() * 12)
          for (let i = 0; i < turns; i++) await Promise.resolve()
        } else {
          await net.settle()
        }
      }
      for (const action of actions) action()
      await p.drain()
      if (collided) glare++
      try {
        expect(p.errors).toEqual([])
        expectConverged(p.a, p.b, p.channels)
        expect(p.a.getTransceivers()).toHaveLength(2)
      } catch (error) {
        throw new Error(`seed ${seed}: ${String(error)} ${p.errors.map(String).join('; ')}`)
      }
    }
    const ms = performance.now() - started
    console.log(`1000 random schedules (${glare} with glare) in ${ms.toFixed(0)} ms`)
    expect(glare).toBeGreaterThan(100)
  })
})
