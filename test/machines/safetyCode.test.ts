import { afterEach, describe, expect, it } from 'vitest'
import type { LocalTracks } from '../../machines/localTracks'
import { nodeWebRTC } from '../../machines/node/wrtc'
import { dtlsFingerprints, pairSafetyCode, safetyCode } from '../../machines/safetyCode'
import type { MediaStreamTrackLike } from '../../machines/webrtc'
import { createPeerPair } from '../support/peerPair'
import { waitUntil } from '../support/wait'

const ROOM = 'safety-room'
const FP_A = 'sha-256 AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99'
const FP_B = 'sha-256 11:22:33:44:55:66:77:88:99:00:AA:BB:CC:DD:EE:FF:11:22:33:44:55:66:77:88:99:00:AA:BB:CC:DD:EE:FF'
const sdp = (fingerprint: string) =>
  `v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=fingerprint:${fingerprint}\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n`

describe('the safety code', () => {
  it('reads the DTLS fingerprints of a description, normalised, once each', () => {
    const lower = FP_A.replace('sha-256', 'SHA-256').toLowerCase()
    expect(dtlsFingerprints(`${sdp(FP_A)}a=fingerprint:${lower}\r\n`)).toEqual([FP_A])
    expect(dtlsFingerprints('v=0\r\n')).toEqual([])
  })

  it('is 20 digits in four groups, the same from both sides, and different per room and per certificate', async () => {
    const ab = await safetyCode(ROOM, sdp(FP_A), sdp(FP_B))
    expect(ab).toMatch(/^\d{5} \d{5} \d{5} \d{5}$/)
    expect(await safetyCode(ROOM, sdp(FP_B), sdp(FP_A))).toBe(ab)
    expect(await safetyCode('another-room', sdp(FP_A), sdp(FP_B))).not.toBe(ab)
    const other = FP_B.replace('11:22', '11:23')
    expect(await safetyCode(ROOM, sdp(FP_A), sdp(other))).not.toBe(ab)
  })

  it('is null until both descriptions have a fingerprint', async () => {
    expect(await safetyCode(ROOM, sdp(FP_A), null)).toBeNull()
    expect(await safetyCode(ROOM, 'v=0\r\n', sdp(FP_B))).toBeNull()
  })
})

// On real libwebrtc: an honest pair, and one whose signaling relay sits in the middle.
type Pair = ReturnType<typeof createPeerPair>
const pairs: Pair[] = []
const live: MediaStreamTrackLike[] = []
afterEach(() => {
  for (const p of pairs.splice(0)) p.stop()
  for (const t of live.splice(0)) t.stop()
})

async function camera(label: string): Promise<LocalTracks> {
  const stream = await nodeWebRTC({ label, width: 160, height: 120, fps: 10 }).getUserMedia({ audio: true, video: true })
  live.push(...stream.getTracks())
  return { stream, audio: stream.getAudioTracks()[0], video: stream.getVideoTracks()[0], screenStream: null, screen: null }
}

async function connected(tracks: { a?: LocalTracks; b?: LocalTracks }): Promise<Pair> {
  const p = createPeerPair({ webrtc: { a: nodeWebRTC(), b: nodeWebRTC() }, tracks })
  pairs.push(p)
  p.setAuto('a', true)
  p.setAuto('b', true)
  await waitUntil(() => p.refs.a.getSnapshot().hasTag('connected') && p.refs.b.getSnapshot().hasTag('connected'), {
    what: 'the pair connected',
  })
  return p
}

const codeOf = (p: Pair, side: 'a' | 'b') => pairSafetyCode(ROOM, p.refs[side].getSnapshot().context.link.pc)

/** Video frames this side has decoded from the remote, by its connection's own statistics. */
async function framesDecoded(p: Pair, side: 'a' | 'b'): Promise<number> {
  let frames = 0
  const stats = await p.refs[side].getSnapshot().context.link.pc.getStats()
  stats.forEach((s: { type?: string; kind?: string; framesDecoded?: number }) => {
    if (s.type === 'inbound-rtp' && s.kind === 'video') frames += s.framesDecoded ?? 0
  })
  return frames
}

describe('the safety code of a real pair', () => {
  it('two honest sides show the same code', async () => {
    const p = await connected({ a: await camera('a'), b: await camera('b') })
    const [a, b] = await Promise.all([codeOf(p, 'a'), codeOf(p, 'b')])
    expect(a).toMatch(/^\d{5}( \d{5}){3}$/)
    expect(b).toBe(a)
  })

  it('a relay that answers each side with its own connection, and forwards the media, shows as two different codes', async () => {
    // Alice talks to "Bob", who is the relay's connection; the relay's other
    // connection talks to the real Bob as "Alice". Each leg is a real
    // negotiation with the relay's own DTLS certificate.
    const alice = await camera('alice')
    const bob = await camera('bob')
    // The relay has no camera: what the real sides see of each other is only what it forwards.
    const toAlice = await connected({ a: alice })
    const toBob = await connected({ b: bob })
    // The relay forwards what each real side sends to the other.
    const forward = (from: Pair, fromSide: 'a' | 'b', to: Pair, toSide: 'a' | 'b') => {
      const stream = from.refs[fromSide].getSnapshot().context.link.remoteStream
      to.refs[toSide].send({
        type: 'media.tracks',
        tracks: {
          stream,
          audio: stream.getAudioTracks()[0] ?? null,
          video: stream.getVideoTracks()[0] ?? null,
          screenStream: null,
          screen: null,
        },
      })
    }
    forward(toBob, 'a', toAlice, 'b')
    forward(toAlice, 'b', toBob, 'a')
    // The call works through the relay: each real side decodes the other's forwarded video.
    await waitUntil(async () => (await framesDecoded(toAlice, 'a')) > 10 && (await framesDecoded(toBob, 'b')) > 10, {
      what: 'forwarded video decoded on both real sides',
    })

    const aliceCode = await codeOf(toAlice, 'a')
    const bobCode = await codeOf(toBob, 'b')
    expect(aliceCode).not.toBeNull()
    expect(bobCode).not.toBeNull()
    // The relay can match each leg's code on its own side, never the two real sides' to each other.
    expect(await codeOf(toAlice, 'b')).toBe(aliceCode)
    expect(await codeOf(toBob, 'a')).toBe(bobCode)
    expect(aliceCode).not.toBe(bobCode)
  })
})
