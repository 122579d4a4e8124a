import { describe, expect, it } from 'vitest'
import { createCall } from '../../../machines/createCall'
import {
  createRecorder,
  parseDump,
  redactSdp,
  sanitize,
  type Environment,
  type RecorderOptions,
  type TimelineEntry,
} from '../../../machines/inspect/recorder'
import type { LocalTracks } from '../../../machines/localTracks'
import { createPeerPair } from '../../support/peerPair'
import { createSimulatedNetwork } from '../../support/simulatedWebRTC'
import { waitUntil } from '../../support/wait'

const ENV: Environment = { userAgent: 'test', app: 'meshcall test', protocol: 1, config: { room: 'r', token: 'join-token' } }

/** A pair negotiated on the simulated network, recorded through XState's inspection API. */
async function recordedPair(options: RecorderOptions = {}) {
  const recorder = createRecorder(options)
  const network = createSimulatedNetwork()
  const webrtc = { a: network.webrtc('a'), b: network.webrtc('b') }
  const tracks = async (w: typeof webrtc.a): Promise<LocalTracks> => {
    const stream = await w.getUserMedia({ audio: true, video: true })
    return { stream, audio: stream.getAudioTracks()[0], video: stream.getVideoTracks()[0], screenStream: null, screen: null }
  }
  const pair = createPeerPair({ webrtc, tracks: { a: await tracks(webrtc.a), b: await tracks(webrtc.b) }, inspect: recorder.inspect })
  pair.setAuto('a', true)
  pair.setAuto('b', true)
  await waitUntil(() => pair.refs.a.getSnapshot().hasTag('connected') && pair.refs.b.getSnapshot().hasTag('connected'), {
    what: 'connected',
  })
  return { recorder, pair }
}

describe('the inspector recorder', () => {
  it('records events, state changes and signaling of every peer actor through the inspection API', async () => {
    const { recorder, pair } = await recordedPair()
    const entries = recorder.entries()
    expect(
      recorder
        .actors()
        .map((a) => a.label)
        .sort(),
    ).toEqual(['a', 'b'])
    expect(entries.some((e) => e.kind === 'state' && e.actor === 'a' && e.tags.includes('connected'))).toBe(true)
    const signals = entries.flatMap((e) => (e.kind === 'event' && e.signal ? [e.signal] : []))
    // Incoming signaling to each peer actor, with SDP types, candidate types and protocols, and sessions.
    expect(signals.some((s) => s.direction === 'in' && s.kind === 'description' && s.sdpType === 'offer')).toBe(true)
    expect(signals.some((s) => s.direction === 'in' && s.kind === 'description' && s.sdpType === 'answer')).toBe(true)
    const candidate = signals.find((s) => s.kind === 'candidate')
    expect(candidate).toMatchObject({ candidateType: 'host', protocol: 'udp' })
    expect(candidate?.session).toBeGreaterThan(0)
    // Live objects are summarised, not serialised.
    const state = recorder.latest().a
    expect(state.context).toMatchObject({ link: { pc: expect.stringMatching(/^\[\w*PeerConnection\]$/) }, peerId: 'peer-b', polite: true })
    expect(recorder.descriptions().a.local).toContain('a=ice-ufrag:')
    pair.stop()
  })

  it("leaves the channel's heartbeat out of the timeline, and keeps its other messages", async () => {
    const { recorder, pair } = await recordedPair()
    // A heartbeat or two each way, then a chat message.
    await waitUntil(() => (pair.refs.a.getSnapshot().context.channelRtt ?? -1) >= 0, { what: "a's first pong" })
    pair.refs.a.send({ type: 'channel.send', message: { type: 'chat', id: 'm1', text: 'salut', sentAt: Date.now() } })
    const received = () => recorder.entries().filter((e) => e.kind === 'event' && e.actor === 'b' && e.event === 'channel.message')
    await waitUntil(() => received().length > 0, { what: 'the chat message recorded' })
    expect(received().map((e) => (e.kind === 'event' ? e.summary : ''))).toEqual([expect.stringContaining('salut')])
    pair.stop()
  })

  it('exports a dump that imports back to the same timeline', async () => {
    const { recorder, pair } = await recordedPair()
    recorder.recordStats('a', {
      t: Date.now(),
      audioPps: 50,
      videoOutBps: 800,
      outBps: 1000,
      inBps: 2000,
      rttMs: 1,
      lossPct: 0,
      jitterMs: 2,
      fps: 15,
      pair: { localType: 'host', remoteType: 'host', protocol: 'udp' },
    })
    const dump = recorder.dump(ENV)
    const imported = parseDump(JSON.parse(JSON.stringify(dump)))
    const timeline = (entries: readonly TimelineEntry[]) =>
      entries.map((e) => [e.seq, e.t, e.actor, e.kind, e.kind === 'event' ? e.event : e.value])
    expect(timeline(imported.entries)).toEqual(timeline(recorder.entries()))
    expect(imported.entries).toEqual(dump.entries)
    expect(imported.latest).toEqual(dump.latest)
    expect(imported.stats.a).toHaveLength(1)
    expect(imported.actors).toEqual(dump.actors)
    pair.stop()
  })

  it('redacts ICE passwords, TURN credentials and join secrets by default', async () => {
    const { recorder, pair } = await recordedPair()
    const text = JSON.stringify(recorder.dump(ENV))
    expect(text).not.toMatch(/a=ice-pwd:(?!\[redacted\])/)
    expect(text).not.toContain('join-token')
    expect(sanitize({ secret: 's3cret', iceServers: [{ urls: 'turn:x', username: '123:p', credential: 'pw' }] }, true, 0)).toEqual({
      secret: '[redacted]',
      iceServers: [{ urls: 'turn:x', username: '[redacted]', credential: '[redacted]' }],
    })
    expect(redactSdp('v=0\r\na=ice-ufrag:abcd\r\na=ice-pwd:topsecret\r\n')).toBe('v=0\r\na=ice-ufrag:abcd\r\na=ice-pwd:[redacted]\r\n')
    const kept = createRecorder({ keepSecrets: true })
    expect(kept.dump(ENV).environment.config.token).toBe('join-token')
    pair.stop()
  })

  it('keeps a bounded ring buffer', async () => {
    const { recorder, pair } = await recordedPair({ maxEntries: 40 })
    expect(recorder.entries()).toHaveLength(40)
    expect(recorder.entries()[0].seq).toBeGreaterThan(1)
    // The latest state of each actor survives eviction.
    expect(recorder.latest().a.tags).toContain('connected')
    pair.stop()
  })

  it('bounds the ring by size as well: a state entry carries a whole context', async () => {
    const all = await recordedPair()
    const full = all.recorder.entries().length
    all.pair.stop()
    const { recorder, pair } = await recordedPair({ maxBytes: 20_000 })
    const size = recorder.entries().reduce((sum, e) => sum + JSON.stringify(e).length, 0)
    expect(recorder.entries().length).toBeLessThan(full)
    // The bound counts the context's JSON and a little per entry: the entries' JSON is near it.
    expect(size).toBeLessThanOrEqual(25_000)
    expect(recorder.latest().a.tags).toContain('connected')
    pair.stop()
  })

  it('forgets the participants who left beyond the last few, so that a long call does not keep every one', async () => {
    const { recorder, pair } = await recordedPair({ maxDeparted: 1 })
    expect(Object.keys(recorder.descriptions()).sort()).toEqual(['a', 'b'])
    // A room that has neither peer (a lobby, recorded by the same recorder): both have left.
    const network = createSimulatedNetwork()
    const room = createCall({
      host: '127.0.0.1:9',
      room: 'r',
      name: 'n',
      webrtc: network.webrtc('c'),
      join: false,
      inspect: recorder.inspect,
    })
    await waitUntil(() => recorder.latest().a === undefined || recorder.latest().b === undefined, { what: 'one departed peer forgotten' })
    const kept = recorder.latest().a ? 'a' : 'b'
    const forgotten = kept === 'a' ? 'b' : 'a'
    expect(recorder.latest()[kept]).toBeDefined()
    expect(recorder.descriptions()[forgotten]).toBeUndefined()
    expect(recorder.actors().map((x) => x.label)).not.toContain(forgotten)
    room.stop()
    pair.stop()
  })

  it('never throws into the actor it observes, even when a connection refuses to be read', async () => {
    const { recorder, pair } = await recordedPair()
    // Firefox throws InvalidStateError on reading a closed connection's descriptions.
    const hostile = {
      signalingState: 'stable',
      get localDescription(): never {
        throw new Error('InvalidStateError: Peer connection is closed')
      },
      get remoteDescription(): never {
        throw new Error('InvalidStateError: Peer connection is closed')
      },
    }
    const actorRef = pair.refs.a
    const snapshot = { ...actorRef.getSnapshot(), context: { ...actorRef.getSnapshot().context, pc: hostile } }
    expect(() =>
      recorder.inspect({ type: '@xstate.snapshot', actorRef, rootId: 'x', snapshot, event: { type: 'x' } } as never),
    ).not.toThrow()
    // Stopping peers (whose connections close) records cleanly too.
    expect(() => pair.stop()).not.toThrow()
  })

  it('refuses a file that is not a dump, saying why', () => {
    expect(() => parseDump({ format: 'something-else' })).toThrow(/not a meshcall inspector dump: format/)
    expect(() => parseDump(null)).toThrow(/not a meshcall inspector dump/)
  })
})
