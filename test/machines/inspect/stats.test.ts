import { afterEach, describe, expect, it } from 'vitest'
import { pollStats, sampleFrom, toSnapshot, type StatsSample, type StatsSnapshot } from '../../../machines/inspect/stats'
import { activeSyntheticTracks } from '../../../machines/node/syntheticMedia'
import { nodeWebRTC } from '../../../machines/node/wrtc'

type Stat = Record<string, unknown> & { id: string; type: string }

function snapshot(t: number, ...stats: Stat[]): StatsSnapshot {
  return toSnapshot(new Map(stats.map((stat) => [stat.id, stat])), t)
}

const inbound = (id: string, kind: 'audio' | 'video', fields: Record<string, unknown>): Stat => ({
  id,
  type: 'inbound-rtp',
  kind,
  ...fields,
})
const outbound = (id: string, bytesSent: number, kind: 'audio' | 'video' = 'video'): Stat => ({ id, type: 'outbound-rtp', kind, bytesSent })

const candidate = (id: string, local: boolean, candidateType: string, address: string, port: number): Stat => ({
  id,
  type: local ? 'local-candidate' : 'remote-candidate',
  candidateType,
  protocol: 'udp',
  address,
  port,
})
const candidates = [
  candidate('L-host', true, 'host', '192.0.2.1', 5000),
  candidate('L-relay', true, 'relay', '203.0.113.9', 3478),
  candidate('R-host', false, 'host', '192.0.2.2', 6000),
  candidate('R-srflx', false, 'srflx', '198.51.100.7', 7000),
]
const pair = (id: string, local: string, remote: string, fields: Record<string, unknown>): Stat => ({
  id,
  type: 'candidate-pair',
  localCandidateId: local,
  remoteCandidateId: remote,
  ...fields,
})

describe('sampleFrom', () => {
  it('without a previous snapshot, gives no rates but reads RTT, jitter and the pair', () => {
    const current = snapshot(
      1_000,
      inbound('in-v', 'video', { bytesReceived: 50_000, framesDecoded: 30, packetsReceived: 40, packetsLost: 0, jitter: 0.004 }),
      outbound('out-v', 20_000),
      { id: 'T', type: 'transport', selectedCandidatePairId: 'P' },
      pair('P', 'L-host', 'R-host', { state: 'succeeded', nominated: true, currentRoundTripTime: 0.023 }),
      ...candidates,
    )

    expect(sampleFrom(null, current, 1_000)).toEqual({
      t: 1_000,
      outBps: null,
      inBps: null,
      rttMs: 23,
      lossPct: null,
      jitterMs: 4,
      fps: null,
      audioPps: null,
      videoOutBps: null,
      pair: {
        localType: 'host',
        remoteType: 'host',
        protocol: 'udp',
        localAddress: '192.0.2.1:5000',
        remoteAddress: '192.0.2.2:6000',
      },
    })
  })

  it('bitrates sum every RTP stream over the interval, in bit/s', () => {
    const previous = snapshot(
      10_000,
      inbound('in-a', 'audio', { bytesReceived: 1_000 }),
      inbound('in-v', 'video', { bytesReceived: 10_000 }),
      outbound('out-a', 2_000),
      outbound('out-v', 20_000),
    )
    const current = snapshot(
      12_000,
      inbound('in-a', 'audio', { bytesReceived: 9_000 }),
      inbound('in-v', 'video', { bytesReceived: 110_000 }),
      outbound('out-a', 10_000),
      outbound('out-v', 52_000),
    )

    const sample = sampleFrom(previous, current, 12_000)

    expect(sample.inBps).toBe(((8_000 + 100_000) * 8) / 2)
    expect(sample.outBps).toBe(((8_000 + 32_000) * 8) / 2)
  })

  it('audio packets per second and the video-only send bitrate, for congestion checks', () => {
    const previous = snapshot(
      10_000,
      inbound('in-a', 'audio', { packetsReceived: 100 }),
      inbound('in-v', 'video', { packetsReceived: 1_000 }),
      outbound('out-a', 2_000, 'audio'),
      outbound('out-v', 20_000),
    )
    const current = snapshot(
      12_000,
      inbound('in-a', 'audio', { packetsReceived: 200 }),
      inbound('in-v', 'video', { packetsReceived: 3_000 }),
      outbound('out-a', 10_000, 'audio'),
      outbound('out-v', 52_000),
    )
    const sample = sampleFrom(previous, current, 12_000)
    expect(sample.audioPps).toBe(50)
    expect(sample.videoOutBps).toBe((32_000 * 8) / 2)
  })

  it('frame rate is frames decoded per second by the busiest video stream', () => {
    const previous = snapshot(
      0,
      inbound('camera', 'video', { framesDecoded: 100 }),
      inbound('screen', 'video', { framesDecoded: 10 }),
      inbound('mic', 'audio', { bytesReceived: 1 }),
    )
    const current = snapshot(
      500,
      inbound('camera', 'video', { framesDecoded: 115 }),
      inbound('screen', 'video', { framesDecoded: 12 }),
      inbound('mic', 'audio', { bytesReceived: 2 }),
    )

    expect(sampleFrom(previous, current, 500).fps).toBe(30)
  })

  it('loss is the share of packets lost over the interval, not since the start', () => {
    const previous = snapshot(0, inbound('in-v', 'video', { packetsReceived: 990, packetsLost: 10 }))
    const current = snapshot(1_000, inbound('in-v', 'video', { packetsReceived: 1_080, packetsLost: 20 }))

    expect(sampleFrom(previous, current, 1_000).lossPct).toBe(10)
  })

  it('loss adds up audio and video, and a falling packetsLost (duplicates) counts as none', () => {
    const previous = snapshot(
      0,
      inbound('in-a', 'audio', { packetsReceived: 100, packetsLost: 5 }),
      inbound('in-v', 'video', { packetsReceived: 100, packetsLost: 0 }),
    )
    const current = snapshot(
      1_000,
      inbound('in-a', 'audio', { packetsReceived: 150, packetsLost: 3 }),
      inbound('in-v', 'video', { packetsReceived: 245, packetsLost: 5 }),
    )

    expect(sampleFrom(previous, current, 1_000).lossPct).toBe((5 / (5 + 50 + 145)) * 100)
  })

  it('a new SSRC after renegotiation counts from zero, and the old one is dropped, with no negative rate', () => {
    const previous = snapshot(
      0,
      inbound('in-v-1111', 'video', { bytesReceived: 900_000, framesDecoded: 900, packetsReceived: 800, packetsLost: 8 }),
      outbound('out-v-2222', 700_000),
    )
    const current = snapshot(
      1_000,
      inbound('in-v-3333', 'video', { bytesReceived: 25_000, framesDecoded: 12, packetsReceived: 30, packetsLost: 0 }),
      outbound('out-v-4444', 40_000),
    )

    const sample = sampleFrom(previous, current, 1_000)

    expect(sample).toMatchObject({ inBps: 200_000, outBps: 320_000, fps: 12, lossPct: 0 })
  })

  it('a counter that went down under the same id was reset, and counts from zero', () => {
    const previous = snapshot(
      0,
      inbound('in-v', 'video', { bytesReceived: 500_000, framesDecoded: 600, packetsReceived: 500, packetsLost: 50 }),
    )
    const current = snapshot(
      1_000,
      inbound('in-v', 'video', { bytesReceived: 4_000, framesDecoded: 5, packetsReceived: 9, packetsLost: 1 }),
    )

    const sample = sampleFrom(previous, current, 1_000)

    expect(sample).toMatchObject({ inBps: 32_000, fps: 5, lossPct: 10 })
  })

  it('takes the pair named by transport.selectedCandidatePairId over other nominated pairs', () => {
    const current = snapshot(
      0,
      { id: 'T', type: 'transport', selectedCandidatePairId: 'P-relay' },
      pair('P-host', 'L-host', 'R-host', { state: 'succeeded', nominated: true, bytesSent: 9e9, currentRoundTripTime: 0.001 }),
      pair('P-relay', 'L-relay', 'R-srflx', { state: 'succeeded', nominated: true, bytesSent: 10, currentRoundTripTime: 0.08 }),
      ...candidates,
    )

    const sample = sampleFrom(null, current, 0)

    expect(sample.pair).toMatchObject({ localType: 'relay', remoteType: 'srflx', protocol: 'udp' })
    expect(sample.rttMs).toBe(80)
  })

  it('without transport stats (Firefox), takes the nominated succeeded pair', () => {
    const current = snapshot(
      0,
      pair('P-waiting', 'L-relay', 'R-host', { state: 'waiting', nominated: false }),
      pair('P-checked', 'L-relay', 'R-srflx', { state: 'succeeded', nominated: false, currentRoundTripTime: 0.5 }),
      pair('P-used', 'L-host', 'R-srflx', { state: 'succeeded', nominated: true, currentRoundTripTime: 0.012 }),
      ...candidates,
    )

    const sample = sampleFrom(null, current, 0)

    expect(sample.pair).toMatchObject({ localType: 'host', remoteType: 'srflx', remoteAddress: '198.51.100.7:7000' })
    expect(sample.rttMs).toBe(12)
  })

  it('a transport without selectedCandidatePairId (libwebrtc before selection) falls back too', () => {
    const current = snapshot(
      0,
      { id: 'T', type: 'transport', iceState: 'checking' },
      pair('P-used', 'L-relay', 'R-host', { state: 'succeeded', nominated: true }),
      ...candidates,
    )

    expect(sampleFrom(null, current, 0).pair).toMatchObject({ localType: 'relay', remoteType: 'host' })
  })

  it('reads the older `ip` field and brackets IPv6 addresses', () => {
    const current = snapshot(
      0,
      pair('P', 'L6', 'R4', { state: 'succeeded', nominated: true }),
      { id: 'L6', type: 'local-candidate', candidateType: 'host', protocol: 'tcp', address: 'fd00::2', port: 9 },
      { id: 'R4', type: 'remote-candidate', candidateType: 'prflx', protocol: 'tcp', ip: '192.0.2.5', port: 10 },
    )

    expect(sampleFrom(null, current, 0).pair).toEqual({
      localType: 'host',
      remoteType: 'prflx',
      protocol: 'tcp',
      localAddress: '[fd00::2]:9',
      remoteAddress: '192.0.2.5:10',
    })
  })

  it('without a pair RTT, uses the mean remote-inbound-rtp roundTripTime', () => {
    const current = snapshot(
      0,
      pair('P', 'L-host', 'R-host', { state: 'succeeded', nominated: true }),
      { id: 'RI-a', type: 'remote-inbound-rtp', kind: 'audio', roundTripTime: 0.03 },
      { id: 'RI-v', type: 'remote-inbound-rtp', kind: 'video', roundTripTime: 0.05 },
      ...candidates,
    )

    expect(sampleFrom(null, current, 0).rttMs).toBeCloseTo(40)
  })

  it('jitter prefers video, and falls back to audio', () => {
    const audio = inbound('in-a', 'audio', { jitter: 0.002 })
    const video = inbound('in-v', 'video', { jitter: 0.015 })
    expect(sampleFrom(null, snapshot(0, audio, video), 0).jitterMs).toBe(15)
    expect(sampleFrom(null, snapshot(0, audio), 0).jitterMs).toBe(2)
    // libwebrtc before M107 has `mediaType` instead of `kind`.
    const legacy: Stat = { id: 'old', type: 'inbound-rtp', mediaType: 'video', jitter: 0.007 }
    expect(sampleFrom(null, snapshot(0, audio, legacy), 0).jitterMs).toBe(7)
  })

  it('every field is null when the report has nothing to read', () => {
    const empty = sampleFrom(snapshot(0), snapshot(1_000), 1_000)
    expect(empty).toEqual({
      t: 1_000,
      outBps: null,
      inBps: null,
      rttMs: null,
      lossPct: null,
      jitterMs: null,
      fps: null,
      audioPps: null,
      videoOutBps: null,
      pair: null,
    })
  })

  it('streams without the counters, pairs without candidates and a zero interval give nulls', () => {
    const bare = snapshot(0, inbound('in-v', 'video', {}), pair('P', 'gone', 'gone', { state: 'succeeded', nominated: true }))
    expect(sampleFrom(bare, bare, 0)).toMatchObject({ inBps: null, fps: null, lossPct: null, jitterMs: null, pair: null })

    const before = snapshot(5_000, inbound('in-v', 'video', { bytesReceived: 1 }))
    const same = snapshot(5_000, inbound('in-v', 'video', { bytesReceived: 2 }))
    expect(sampleFrom(before, same, 5_000).inBps).toBeNull()
  })

  it('loss is null for an interval with no packets at all', () => {
    const stalled = inbound('in-v', 'video', { packetsReceived: 10, packetsLost: 0 })
    expect(sampleFrom(snapshot(0, stalled), snapshot(1_000, stalled), 1_000).lossPct).toBeNull()
  })
})

describe('toSnapshot', () => {
  it('keeps copies of the stats sampleFrom reads, by id, and drops the rest', () => {
    const inboundStat = { id: 'I', type: 'inbound-rtp', bytesReceived: 1 }
    const report = new Map<string, unknown>([
      ['I', inboundStat],
      ['C', { id: 'C', type: 'codec', mimeType: 'video/VP8' }],
      ['X', 'not a stat'],
      ['T', { id: 'T', type: 'transport' }],
    ])

    const kept = toSnapshot(report, 42)
    inboundStat.bytesReceived = 99

    expect(kept.t).toBe(42)
    expect([...kept.stats.keys()]).toEqual(['I', 'T'])
    expect(kept.stats.get('I')).toEqual({ id: 'I', type: 'inbound-rtp', bytesReceived: 1 })
  })
})

describe('pollStats with libwebrtc (@roamhq/wrtc)', () => {
  const webrtc = nodeWebRTC({ label: 'stats' })
  const cleanups: (() => void)[] = []

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) cleanup()
    await waitFor('synthetic tracks to stop', () => activeSyntheticTracks() === 0, 2_000)
  })

  function peer(): RTCPeerConnection {
    const pc = new webrtc.RTCPeerConnection()
    cleanups.push(() => pc.close())
    return pc
  }

  function poll(pc: RTCPeerConnection, intervalMs: number): StatsSample[] {
    const samples: StatsSample[] = []
    cleanups.push(pollStats(pc, (sample) => samples.push(sample), intervalMs))
    return samples
  }

  it('a receiver of synthetic video sees incoming bitrate, frames and a host pair; the sender its bitrate', async () => {
    const [sender, receiver] = [peer(), peer()]
    trickle(sender, receiver)
    const stream = await webrtc.getUserMedia({ audio: true, video: true })
    cleanups.push(() => stream.getTracks().forEach((track) => track.stop()))
    for (const track of stream.getTracks()) sender.addTrack(track, stream)
    await sender.setLocalDescription()
    await receiver.setRemoteDescription(described(sender))
    await receiver.setLocalDescription()
    await sender.setRemoteDescription(described(receiver))

    const received = poll(receiver, 250)
    const sent = poll(sender, 250)
    const flowing = () => received.filter((sample) => (sample.inBps ?? 0) > 0 && (sample.fps ?? 0) > 0)
    await waitFor('4 samples with incoming video', () => flowing().length >= 4, 10_000)
    await waitFor('a sample with outgoing bitrate', () => sent.some((sample) => (sample.outBps ?? 0) > 0), 5_000)

    const latest = flowing().at(-1)
    expect(latest?.inBps).toBeGreaterThan(0)
    expect(latest?.fps).toBeGreaterThan(0)
    expect(latest?.fps).toBeLessThan(40)
    expect(latest?.pair).toMatchObject({ localType: 'host', remoteType: 'host', protocol: 'udp' })
    expect(latest?.lossPct).toBe(0)
    expect(latest?.rttMs).not.toBeNull()
    expect(received[0]).toMatchObject({ inBps: null, fps: null })
    expect(received.every((sample) => (sample.inBps ?? 0) >= 0 && (sample.fps ?? 0) >= 0)).toBe(true)
  })

  it('stops quietly when the connection closes, and does not start on a closed one', async () => {
    const pc = new webrtc.RTCPeerConnection()
    const samples = poll(pc, 20)
    await waitFor('a sample from an unconnected pc', () => samples.length >= 1)
    expect(samples[0]).toMatchObject({ inBps: null, outBps: null, pair: null })

    pc.close()
    const count = samples.length
    const closed = poll(pc, 20)
    // Proving that nothing more comes takes time: five intervals' worth.
    await new Promise((resolve) => setTimeout(resolve, 100))

    expect(samples.length).toBeLessThanOrEqual(count + 1)
    expect(closed).toEqual([])
  })
})

async function waitFor(what: string, condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

function described(pc: RTCPeerConnection): RTCSessionDescriptionInit {
  const description = pc.localDescription
  if (description === null) throw new Error('no local description')
  return { type: description.type, sdp: description.sdp }
}

/** Hands each side's candidates to the other once it has a remote description. */
function trickle(a: RTCPeerConnection, b: RTCPeerConnection): void {
  for (const [from, to] of [
    [a, b],
    [b, a],
  ]) {
    from.addEventListener('icecandidate', ({ candidate }) => {
      if (candidate === null) return
      void waitFor('a remote description', () => to.remoteDescription !== null || to.signalingState === 'closed')
        .then(() => (to.signalingState === 'closed' ? undefined : to.addIceCandidate(candidate)))
        .catch(() => undefined)
    })
  }
}
