import { afterEach, describe, expect, it } from 'vitest'
import type { SnapshotFrom } from 'xstate'
import type { LocalTracks } from '../../machines/localTracks'
import { nodeWebRTC } from '../../machines/node/wrtc'
import type { PeerTimings } from '../../machines/peer/types'
import type { peerMachine } from '../../machines/peerMachine'
import { iceUfrags } from '../../machines/peerMedia'
import type { SignalData } from '../../protocol/messages'
import { createPeerPair, type Side } from '../support/peerPair'
import { waitUntil } from '../support/wait'

// The peer machine against real libwebrtc (@roamhq/wrtc), with the signaling
// between the two sides held and released by the test.
type Pair = ReturnType<typeof createPeerPair>
let pairs: Pair[] = []
const liveTracks: MediaStreamTrack[] = []

afterEach(() => {
  for (const pair of pairs) pair.stop()
  pairs = []
  for (const track of liveTracks.splice(0)) track.stop()
})

async function camera(label: string): Promise<LocalTracks> {
  const stream = await nodeWebRTC({ label, width: 160, height: 120, fps: 10 }).getUserMedia({ audio: true, video: true })
  liveTracks.push(...stream.getTracks())
  return { stream, audio: stream.getAudioTracks()[0], video: stream.getVideoTracks()[0], screenStream: null, screen: null }
}

async function screen(tracks: LocalTracks): Promise<LocalTracks> {
  const stream = await nodeWebRTC().getDisplayMedia({ video: true })
  liveTracks.push(...stream.getTracks())
  return { ...tracks, screenStream: stream, screen: stream.getVideoTracks()[0] }
}

async function pair(ids: { a: string; b: string }, timings?: Partial<PeerTimings>) {
  const p = createPeerPair({
    ids,
    webrtc: { a: nodeWebRTC(), b: nodeWebRTC() },
    tracks: { a: await camera('a'), b: await camera('b') },
    timings,
  })
  pairs.push(p)
  return p
}

type Snapshot = SnapshotFrom<typeof peerMachine>
const negotiation = (s: Snapshot) => (s.value as { active: { negotiation: string } }).active.negotiation
const at = (p: Pair, side: Side) => p.refs[side].getSnapshot()
const isDescription = (kind: SignalData['kind']) => kind === 'description'

const settled = (s: Snapshot) =>
  s.hasTag('connected') &&
  negotiation(s) === 'stable' &&
  s.context.link.pc.signalingState === 'stable' &&
  s.matches({ active: { channel: 'open' } })

async function bothSettled(p: Pair, what = 'both sides connected, stable, with an open channel') {
  await waitUntil(() => settled(at(p, 'a')) && settled(at(p, 'b')), {
    what,
    describe: () => ({ a: at(p, 'a').value, b: at(p, 'b').value, errorsA: at(p, 'a').context.errors, errorsB: at(p, 'b').context.errors }),
  })
}

async function connectedPair(ids = { a: 'peer-a', b: 'peer-b' }, timings?: Partial<PeerTimings>) {
  const p = await pair(ids, timings)
  p.setAuto('a', true)
  p.setAuto('b', true)
  await bothSettled(p)
  return p
}

function noErrors(p: Pair) {
  expect(at(p, 'a').context.errors).toEqual([])
  expect(at(p, 'b').context.errors).toEqual([])
}

describe('perfect negotiation', () => {
  for (const [name, ids] of [
    [
      'glare on the first offers: the impolite one ignores, the polite one takes the remote offer on a fresh connection and answers',
      { a: 'peer-a', b: 'peer-b' },
    ],
    ['roles reversed: the same first-offer glare resolves with the other side polite', { a: 'peer-z', b: 'peer-b' }],
  ] as const) {
    it(
      name,
      async () => {
        const p = await pair(ids)
        // Both sides' negotiationneeded fires at once: two offers cross.
        await waitUntil(() => p.queues.a.some((m) => isDescription(m.kind)) && p.queues.b.some((m) => isDescription(m.kind)), {
          what: 'both offers made',
        })
        const polite: Side = at(p, 'a').context.polite ? 'a' : 'b'
        const impolite: Side = polite === 'a' ? 'b' : 'a'
        expect(at(p, impolite).context.polite).toBe(false)
        expect(negotiation(at(p, 'a'))).toBe('awaitingAnswer')
        expect(negotiation(at(p, 'b'))).toBe('awaitingAnswer')

        // The polite side's offer reaches the impolite side first: ignored.
        p.deliver(polite)
        expect(at(p, impolite).context.ignoredOffers).toBe(1)
        expect(negotiation(at(p, impolite))).toBe('awaitingAnswer')
        // The impolite side's offer reaches the polite side: its first offer is
        // swapped for a fresh connection of the same session (mustSwapFirstOffer), which answers.
        p.deliver(impolite)
        expect(negotiation(at(p, polite))).toBe('settingRemoteOffer')

        p.setAuto('a', true)
        p.setAuto('b', true)
        await bothSettled(p)
        expect(at(p, polite).context.ignoredOffers).toBe(0)
        expect(at(p, 'a').context.link.remoteTracks).toEqual({ audio: true, video: true, screen: false })
        expect(at(p, 'b').context.link.remoteTracks).toEqual({ audio: true, video: true, screen: false })
        noErrors(p)
      },
      30_000,
    )
  }

  it('glare on a renegotiation: both share a screen at once; the impolite one ignores, the polite one rolls back and answers', async () => {
    const p = await connectedPair()
    p.setAuto('a', false)
    p.setAuto('b', false)
    const polite: Side = at(p, 'a').context.polite ? 'a' : 'b'
    const impolite: Side = polite === 'a' ? 'b' : 'a'
    const ignored = at(p, impolite).context.ignoredOffers
    const offers = (side: Side) => p.queues[side].filter((m) => m.kind === 'description' && m.description.type === 'offer')
    for (const side of ['a', 'b'] as const)
      p.refs[side].send({ type: 'media.tracks', tracks: await screen(at(p, side).context.localTracks) })
    await waitUntil(() => offers('a').length === 1 && offers('b').length === 1, { what: 'both offers made' })
    const politeMids = at(p, polite).context.link.pc.getTransceivers().length

    p.deliver(
      polite,
      p.queues[polite].findIndex((m) => m.kind === 'description'),
    )
    expect(at(p, impolite).context.ignoredOffers).toBe(ignored + 1)
    p.deliver(
      impolite,
      p.queues[impolite].findIndex((m) => m.kind === 'description'),
    )
    // A real rollback here: the connection has negotiated before.
    expect(negotiation(at(p, polite))).toBe('settingRemoteOffer')
    await waitUntil(() => p.queues[polite].some((m) => m.kind === 'description' && m.description.type === 'answer'), {
      what: "the polite side's answer",
    })
    expect(at(p, polite).context.link.pc.getTransceivers().length).toBeGreaterThanOrEqual(politeMids)

    p.setAuto('a', true)
    p.setAuto('b', true)
    await waitUntil(() => at(p, 'a').context.link.remoteTracks.screen && at(p, 'b').context.link.remoteTracks.screen, {
      what: 'each screen received on the other side',
    })
    await bothSettled(p)
    expect(at(p, polite).context.ignoredOffers).toBe(0)
    noErrors(p)
  }, 30_000)

  it('accepts an offer that arrives while an answer is being applied (isSettingRemoteAnswerPending)', async () => {
    // a is impolite here: without the isSettingRemoteAnswerPending rule it
    // would take the offer for a collision (it is still in have-local-offer)
    // and ignore it, and b would wait for an answer that never comes.
    const p = await connectedPair({ a: 'peer-z', b: 'peer-b' })
    expect(at(p, 'a').context.polite).toBe(false)
    p.setAuto('a', false)
    p.setAuto('b', false)
    const ignoredBefore = at(p, 'a').context.ignoredOffers

    // a offers (its screen); b answers, then makes an offer of its own (its
    // screen too): b's answer and b's offer travel back to a together.
    p.refs.a.send({ type: 'media.tracks', tracks: await screen(at(p, 'a').context.localTracks) })
    await waitUntil(() => p.queues.a.some((m) => m.kind === 'description'), { what: "a's offer" })
    p.setAuto('a', true)
    const types = () => p.queues.b.flatMap((m) => (m.kind === 'description' ? [m.description.type] : []))
    await waitUntil(() => types().join() === 'answer', { what: "b's answer" })
    p.refs.b.send({ type: 'media.tracks', tracks: await screen(at(p, 'b').context.localTracks) })
    await waitUntil(() => types().join() === 'answer,offer', {
      what: "b's answer followed by b's offer",
      describe: () => ({ queue: types(), b: at(p, 'b').value }),
    })

    const answerAt = p.queues.b.findIndex((m) => m.kind === 'description')
    p.deliver('b', answerAt)
    expect(negotiation(at(p, 'a'))).toBe('settingRemoteAnswer')
    const offerAt = p.queues.b.findIndex((m) => m.kind === 'description')
    p.deliver('b', offerAt)
    // Taken, not ignored: the answer being applied will make a stable.
    expect(negotiation(at(p, 'a'))).toBe('settingRemoteOffer')
    expect(at(p, 'a').context.ignoredOffers).toBe(ignoredBefore)

    p.setAuto('b', true)
    await bothSettled(p)
    await waitUntil(() => at(p, 'b').context.link.remoteTracks.screen && at(p, 'a').context.link.remoteTracks.screen, {
      what: 'each screen received on the other side',
    })
    noErrors(p)
  }, 30_000)

  it('queues candidates that arrive before any remote description and applies them after it', async () => {
    const p = await pair({ a: 'peer-a', b: 'peer-b' })
    // b (impolite) must not offer first here: let b's offer reach a and be answered.
    await waitUntil(() => p.queues.b.some((m) => m.kind === 'description') && p.queues.a.some((m) => m.kind === 'candidate'), {
      what: "b's offer and a's candidates",
    })
    // a's candidates overtake a's description: b has no remote description yet.
    expect(at(p, 'b').context.link.pc.remoteDescription).toBeNull()
    const candidates = p.queues.a.filter((m) => m.kind === 'candidate').length
    while (p.queues.a.some((m) => m.kind === 'candidate'))
      p.deliver(
        'a',
        p.queues.a.findIndex((m) => m.kind === 'candidate'),
      )
    expect(at(p, 'b').context.signaling.pendingCandidates.length).toBe(candidates)

    p.setAuto('a', true)
    p.setAuto('b', true)
    await bothSettled(p)
    expect(at(p, 'b').context.signaling.pendingCandidates).toEqual([])
    noErrors(p)
  }, 30_000)
})

/** `data` as if sent again now: the next message number the receiver (the other side of `from`) expects. */
function sentAgain(p: Pair, from: Side, data: SignalData): SignalData {
  const receiver = at(p, from === 'a' ? 'b' : 'a')
  return { ...data, seq: receiver.context.signaling.remoteSeq + 1 }
}

describe('stale signaling', () => {
  it('drops replayed and overtaken messages by their number, and stays connected', async () => {
    const p = await connectedPair()
    const replay = p.sent.b.slice(0, 3)
    const before = at(p, 'a').context.dropped.staleSeq
    for (const message of replay) p.redeliver('b', message)
    expect(at(p, 'a').context.dropped.staleSeq).toBe(before + replay.length)
    expect(settled(at(p, 'a'))).toBe(true)
    noErrors(p)
  }, 30_000)

  it('drops an older offer or answer sent again, by its offer number', async () => {
    const p = await connectedPair()
    // Two more exchanges, one made by each side, so that b has an older
    // offer and an older answer than the ones a took last.
    for (const side of ['a', 'b'] as const) {
      p.refs[side].send({ type: 'ui.restartIce' })
      await bothSettled(p, `the restart from ${side}`)
    }
    // b's first offer and first answer: a has taken a later offer of b's since, and b has answered a later one of a's.
    const first = (type: 'offer' | 'answer') => p.sent.b.find((m) => m.kind === 'description' && m.description.type === type)
    const replay = [first('offer'), first('answer')].filter((m): m is SignalData => m !== undefined)
    expect(replay).toHaveLength(2)
    const before = at(p, 'a').context.dropped
    for (const message of replay) p.redeliver('b', sentAgain(p, 'b', message))
    const after = at(p, 'a').context.dropped
    expect(after.staleOffer - before.staleOffer).toBe(1)
    expect(after.staleAnswer - before.staleAnswer).toBe(1)
    expect(settled(at(p, 'a'))).toBe(true)
    noErrors(p)
  }, 30_000)

  it('answers again an offer sent again (its answer was lost), and the offerer drops the answer it already has', async () => {
    const p = await connectedPair()
    const lastOffer = p.sent.b.filter((m) => m.kind === 'description' && m.description.type === 'offer').at(-1)
    if (lastOffer?.kind !== 'description') throw new Error('b made no offer')
    const answers = () => p.sent.a.filter((m) => m.kind === 'description' && m.description.type === 'answer').length
    const before = { answers: answers(), staleAnswer: at(p, 'b').context.dropped.staleAnswer }
    p.redeliver('b', sentAgain(p, 'b', lastOffer))
    await waitUntil(() => answers() === before.answers + 1, { what: 'a to answer the offer again' })
    const again = p.sent.a.at(-1)
    expect(again).toMatchObject({ kind: 'description', description: { type: 'answer' }, offer: lastOffer.offer })
    await waitUntil(() => at(p, 'b').context.dropped.staleAnswer === before.staleAnswer + 1, { what: 'b to drop the answer it has' })
    expect(settled(at(p, 'a'))).toBe(true)
    expect(settled(at(p, 'b'))).toBe(true)
    noErrors(p)
  }, 30_000)

  it('drops signaling addressed to a connection that no longer exists', async () => {
    const p = await connectedPair()
    const [candidate] = p.sent.b.filter((m) => m.kind === 'candidate')
    p.redeliver('b', { ...candidate, ack: at(p, 'a').context.signaling.session - 1 })
    expect(at(p, 'a').context.dropped.staleAck).toBe(1)
    p.redeliver('b', { ...candidate, session: at(p, 'a').context.remoteSession! - 1 })
    expect(at(p, 'a').context.dropped.staleSession).toBe(1)
    noErrors(p)
  }, 30_000)

  it('starts over with a fresh connection when the remote one is new (a reload with the same id)', async () => {
    const p = await connectedPair()
    const oldPc = at(p, 'a').context.link.pc
    const oldSession = at(p, 'a').context.signaling.session
    p.restart('b')
    await bothSettled(p, 'the pair connected again after b reloaded')
    expect(at(p, 'a').context.signaling.session).toBeGreaterThan(oldSession)
    expect(at(p, 'a').context.remoteSession).toBe(at(p, 'b').context.signaling.session)
    expect(oldPc.connectionState).toBe('closed')
    // The replacement acknowledged b's new connection, so b did not start over in turn.
    expect(at(p, 'b').context.remoteSession).toBe(at(p, 'a').context.signaling.session)
    noErrors(p)
  }, 30_000)

  it('drops candidates from before an ICE restart that arrive after it', async () => {
    const p = await connectedPair()
    const before = p.sent.b.filter((m) => m.kind === 'candidate')
    const oldUfrag = iceUfrags(at(p, 'a').context.link.pc.remoteDescription?.sdp)[0]
    p.refs.a.send({ type: 'ui.restartIce' })
    await waitUntil(() => iceUfrags(at(p, 'a').context.link.pc.remoteDescription?.sdp)[0] !== oldUfrag && settled(at(p, 'a')), {
      what: 'the restart to complete with new remote credentials',
      describe: () => ({
        old: oldUfrag,
        now: iceUfrags(at(p, 'a').context.link.pc.remoteDescription?.sdp),
        a: at(p, 'a').value,
        b: at(p, 'b').value,
        restarts: at(p, 'a').context.totalRestarts,
        sentA: p.sent.a.map((m) => (m.kind === 'description' ? m.description.type : m.kind)),
      }),
    })
    // Sent again with new numbers (or by a peer that numbers nothing): the
    // ICE generation tells them apart.
    for (const candidate of before) p.redeliver('b', sentAgain(p, 'b', candidate))
    expect(at(p, 'a').context.dropped.oldCandidate).toBe(before.length)
    expect(settled(at(p, 'a'))).toBe(true)
    noErrors(p)
  }, 30_000)
})

describe('ICE restarts', () => {
  it('gives up after the configured restarts and ends failed with the reason; retry starts again', async () => {
    const p = await pair({ a: 'peer-a', b: 'peer-b' }, { connectTimeoutMs: 300, restartBackoffMs: 100, maxRestarts: 3 })
    // No signaling ever arrives: nothing can connect.
    await waitUntil(() => at(p, 'a').hasTag('failed'), { what: 'a to give up' })
    expect(at(p, 'a').context.link.failure).toEqual({ reason: 'ice-failed', message: 'no connection after 3 ICE restarts' })
    expect(at(p, 'a').context.totalRestarts).toBe(3)
    expect(at(p, 'a').can({ type: 'ui.retry' })).toBe(true)
    p.refs.a.send({ type: 'ui.retry' })
    expect(at(p, 'a').hasTag('reconnecting')).toBe(true)
    expect(at(p, 'a').context.totalRestarts).toBe(4)
  }, 30_000)
})

describe('media', () => {
  it('switches a camera with replaceTrack, without renegotiating', async () => {
    const p = await connectedPair()
    const descriptions = p.sent.a.filter((m) => m.kind === 'description').length
    const next = await camera('a2')
    const tracks = { ...at(p, 'a').context.localTracks, video: next.video }
    p.refs.a.send({ type: 'media.tracks', tracks })
    const sender = at(p, 'a').context.link.senders.video
    await waitUntil(() => sender?.track === next.video, { what: 'the sender to carry the new track' })
    expect(p.sent.a.filter((m) => m.kind === 'description').length).toBe(descriptions)
    expect(at(p, 'a').context.link.senders.video).toBe(sender)
    noErrors(p)
  }, 30_000)

  it('sizes the video sender to the mesh: the uplink budget is shared among the peers', async () => {
    const p = await connectedPair()
    p.refs.a.send({ type: 'room.meshSize', size: 6 })
    await waitUntil(() => at(p, 'a').context.encoding.applied && at(p, 'a').context.encoding.camera.maxBitrate === 452_000, {
      what: 'the 6-person encoding applied',
      describe: () => at(p, 'a').context.encoding,
    })
    const [encoding] = at(p, 'a').context.link.senders.video!.getParameters().encodings
    expect(encoding.maxBitrate).toBe(452_000)
    expect(encoding.scaleResolutionDownBy).toBe(2)
  }, 30_000)
})
