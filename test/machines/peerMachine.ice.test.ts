import { afterEach, describe, expect, it } from 'vitest'
import type { LocalTracks } from '../../machines/localTracks'
import type { PeerTimings } from '../../machines/peer/types'
import { createPeerPair } from '../support/peerPair'
import { createSimulatedNetwork } from '../support/simulatedWebRTC'
import { waitUntil } from '../support/wait'

// ICE failure cannot be caused on demand between two libwebrtc peers on one
// loopback interface, so these paths run on the simulated network, where a
// partition really breaks connectivity. (The forced-restart path also runs
// on real libwebrtc, in peerMachine.test.ts and mesh.test.ts.)
type Pair = ReturnType<typeof createPeerPair>
let pairs: Pair[] = []
afterEach(() => {
  for (const pair of pairs) pair.stop()
  pairs = []
})

const FAST: Partial<PeerTimings> = { disconnectedMs: 200, restartBackoffMs: 150, maxRestarts: 3, connectTimeoutMs: 2_000 }

/** A pair on a simulated network, signaling delivered as it is sent; not yet connected. */
async function negotiating(timings = FAST, iceServers: RTCIceServer[] = []) {
  const network = createSimulatedNetwork()
  const a = network.webrtc('a')
  const b = network.webrtc('b')
  const tracks = async (webrtc: typeof a): Promise<LocalTracks> => {
    const stream = await webrtc.getUserMedia({ audio: true, video: true })
    return { stream, audio: stream.getAudioTracks()[0], video: stream.getVideoTracks()[0], screenStream: null, screen: null }
  }
  const pair = createPeerPair({ webrtc: { a, b }, tracks: { a: await tracks(a), b: await tracks(b) }, timings, iceServers })
  pairs.push(pair)
  return { pair, network }
}

async function connected(timings = FAST) {
  const { pair, network } = await negotiating(timings)
  pair.setAuto('a', true)
  pair.setAuto('b', true)
  await waitUntil(() => pair.refs.a.getSnapshot().hasTag('connected') && pair.refs.b.getSnapshot().hasTag('connected'), {
    what: 'connected',
  })
  return { pair, network }
}

/** Drives the simulated network's clock (disconnected to failed) until `check` holds. */
async function until(network: ReturnType<typeof createSimulatedNetwork>, check: () => boolean, what: string) {
  await waitUntil(
    async () => {
      await network.advance()
      return check()
    },
    { what, timeoutMs: 10_000 },
  )
}

describe('ICE restarts on a network that breaks', () => {
  it('restarts ICE at once on failed, and reconnects once the network heals', async () => {
    const { pair, network } = await connected({ ...FAST, disconnectedMs: 60_000 })
    const a = () => pair.refs.a.getSnapshot()
    network.partition('a', 'b')
    await until(network, () => a().context.totalRestarts > 0, 'a restart after failed')
    // The long disconnected delay did not hold it up: failed restarts at once.
    expect(a().context.link.connectionState === 'failed' || a().hasTag('reconnecting')).toBe(true)
    network.heal('a', 'b')
    await until(network, () => a().hasTag('connected') && pair.refs.b.getSnapshot().hasTag('connected'), 'connected again')
    expect(a().context.link.restarts).toBe(0)
  })

  it('restarts after disconnected has lasted the configured delay', async () => {
    const { pair, network } = await connected()
    const a = () => pair.refs.a.getSnapshot()
    network.partition('a', 'b')
    // Only "disconnected": the simulated clock is not advanced to "failed".
    await waitUntil(() => a().matches({ active: { connection: 'disconnected' } }), { what: 'disconnected' })
    expect(a().hasTag('reconnecting')).toBe(true)
    expect(a().context.totalRestarts).toBe(0)
    await waitUntil(() => a().context.totalRestarts === 1, { what: 'the restart after the delay' })
    network.heal('a', 'b')
    await until(network, () => a().hasTag('connected'), 'connected again')
  })

  it("takes the other side's restart as its own recovery: no second restart on top of it", async () => {
    // The impolite side's disconnected delay ends first (the polite one waits
    // 1.5×), so its restart offer reaches the polite side while that one is
    // still waiting in `disconnected`.
    const { pair, network } = await connected({ ...FAST, disconnectedMs: 400, restartBackoffMs: 2_000 })
    const [polite, impolite] = pair.refs.a.getSnapshot().context.polite ? [pair.refs.a, pair.refs.b] : [pair.refs.b, pair.refs.a]
    const states: string[] = []
    polite.subscribe((s) => states.push(JSON.stringify(s.value)))
    network.partition('a', 'b')
    await waitUntil(() => impolite.getSnapshot().context.totalRestarts === 1, { what: 'the impolite side to restart' })
    await waitUntil(() => polite.getSnapshot().matches({ active: { connection: 'recovering' } }), {
      what: "the polite side to wait on the other's restart",
    })
    expect(polite.getSnapshot().context.totalRestarts).toBe(0)
    network.heal('a', 'b')
    await until(network, () => polite.getSnapshot().hasTag('connected') && impolite.getSnapshot().hasTag('connected'), 'connected again')
    // It went from disconnected to recovering without restarting itself, and
    // recorded the recovery.
    expect(states.some((s) => s.includes('"connection":"disconnected"'))).toBe(true)
    expect(polite.getSnapshot().context.totalRestarts).toBe(0)
    expect(polite.getSnapshot().context.recoveries.map((r) => r.cause)).toEqual(['disconnected'])
    expect(impolite.getSnapshot().context.totalRestarts).toBe(1)
  })

  it('calls a silent channel disconnected before ICE notices, and connected again once it is heard', async () => {
    const { pair, network } = await connected({ ...FAST, heartbeatMs: 100, silenceMs: 300, disconnectedMs: 60_000 })
    const a = () => pair.refs.a.getSnapshot()
    network.stall('a', 'b')
    await waitUntil(() => a().matches({ active: { connection: 'disconnected' } }), { what: 'a to hear nothing and disconnect' })
    // ICE never said otherwise: this is the channel's finding.
    expect(a().context.link.pc.connectionState).toBe('connected')
    expect(a().hasTag('reconnecting')).toBe(true)
    network.unstall('a', 'b')
    await waitUntil(() => a().hasTag('connected'), { what: 'a connected again once heard' })
    expect(a().context.recoveries.map((r) => r.cause)).toEqual(['silent'])
    expect(a().context.totalRestarts).toBe(0)
  })

  it('does not take a restart negotiated while the channel is silent as recovered: only hearing the remote again is', async () => {
    const { pair, network } = await connected({ ...FAST, heartbeatMs: 100, silenceMs: 300, disconnectedMs: 200, restartBackoffMs: 60_000 })
    const sides = [pair.refs.a, pair.refs.b]
    network.stall('a', 'b')
    // One side restarts (the other takes that restart as its own recovery).
    await waitUntil(() => sides.some((ref) => ref.getSnapshot().context.totalRestarts === 1), { what: 'a restart after the silence' })
    // Signaling still works: the restart is negotiated, and ICE says connected throughout.
    await waitUntil(
      () =>
        sides.every((ref) => {
          const s = ref.getSnapshot()
          return (
            s.matches({ active: { negotiation: 'stable', connection: 'recovering' } }) && s.context.link.pc.connectionState === 'connected'
          )
        }),
      { what: 'the restart negotiated, both sides recovering' },
    )
    expect(sides.map((ref) => ref.getSnapshot().hasTag('reconnecting'))).toEqual([true, true])
    network.unstall('a', 'b')
    await waitUntil(() => sides.every((ref) => ref.getSnapshot().hasTag('connected')), { what: 'both connected once heard' })
    expect(sides.map((ref) => ref.getSnapshot().context.totalRestarts).sort()).toEqual([0, 1])
  })

  it("gives ICE's word a fresh wait: connected again while the channel is silent, it disconnects again if silence goes on", async () => {
    const { pair, network } = await connected({ ...FAST, heartbeatMs: 100, silenceMs: 300, disconnectedMs: 60_000 })
    const a = () => pair.refs.a.getSnapshot()
    network.stall('a', 'b')
    network.partition('a', 'b')
    await waitUntil(() => a().matches({ active: { connection: 'disconnected', liveness: 'silent' } }), {
      what: 'a disconnected and silent',
    })
    // ICE comes back, the channel does not.
    network.heal('a', 'b')
    await waitUntil(() => a().matches({ active: { connection: 'connected', liveness: 'hearing' } }), { what: "a connected on ICE's word" })
    await waitUntil(() => a().matches({ active: { connection: 'disconnected', liveness: 'silent' } }), {
      what: 'a disconnected again by the silence',
    })
    expect(a().context.link.pc.connectionState).toBe('connected')
    network.unstall('a', 'b')
    await waitUntil(() => a().hasTag('connected'), { what: 'a connected once heard' })
    expect(a().context.recoveries.map((r) => r.cause)).toEqual(['disconnected', 'silent'])
  })

  it('gives up after the bounded restarts, with backoff, and ends failed with the reason', async () => {
    const { pair, network } = await connected()
    const a = () => pair.refs.a.getSnapshot()
    network.partition('a', 'b')
    const started = Date.now()
    await until(network, () => a().hasTag('failed'), 'a to give up')
    expect(a().context.link.failure).toEqual({ reason: 'ice-failed', message: 'no connection after 3 ICE restarts' })
    // Backoff: 150 + 300 + 600 ms at the least between the three restarts and giving up.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000)
    // Restarted, never recreated: still the same connection.
    expect(network.connections('a')).toHaveLength(1)
    network.heal('a', 'b')
    pair.refs.a.send({ type: 'ui.retry' })
    await until(network, () => a().hasTag('connected'), 'connected after retry')
  })
})

/** The pair's sides by role. */
function roles(pair: Pair) {
  return pair.refs.a.getSnapshot().context.polite
    ? { polite: pair.refs.a, impolite: pair.refs.b, politeSide: 'a' as const }
    : { polite: pair.refs.b, impolite: pair.refs.a, politeSide: 'b' as const }
}

/** The offers a side has sent since `from` (an index into its sent messages). */
const offersSince = (pair: Pair, side: 'a' | 'b', from: number) =>
  pair.sent[side].slice(from).filter((m) => m.kind === 'description' && m.description.type === 'offer')

// Chromium stops delivering a receiver's frames once a local offer has been
// rolled back (w3c/webrtc-pc#3081), and both sides of an outage restart at
// about the same time: the polite side asks instead (machines/peer/recovery.ts).
describe('only the impolite side restarts ICE; the polite side asks it to', () => {
  it('a partition: the polite side asks, never offers, and the impolite side restarts for both', async () => {
    const { pair, network } = await connected()
    const { polite, impolite, politeSide } = roles(pair)
    const sentBefore = pair.sent[politeSide].length
    network.partition('a', 'b')
    await until(
      network,
      () => polite.getSnapshot().context.totalRestarts > 0 && impolite.getSnapshot().context.totalRestarts > 0,
      'both to try',
    )
    network.heal('a', 'b')
    await until(network, () => polite.getSnapshot().hasTag('connected') && impolite.getSnapshot().hasTag('connected'), 'connected again')
    const sent = pair.sent[politeSide].slice(sentBefore)
    expect(sent.some((m) => m.kind === 'restart')).toBe(true)
    expect(offersSince(pair, politeSide, sentBefore)).toEqual([])
    // Its connection never held an offer of its own, so nothing was rolled back.
    expect(polite.getSnapshot().context.errors).toEqual([])
  })

  it('the impolite side waiting out its disconnected delay restarts at once when asked', async () => {
    const { pair, network } = await connected({ ...FAST, disconnectedMs: 60_000 })
    const { polite, impolite } = roles(pair)
    network.partition('a', 'b')
    await waitUntil(() => impolite.getSnapshot().matches({ active: { connection: 'disconnected' } }), {
      what: 'the impolite side disconnected',
    })
    polite.send({ type: 'ui.restartIce' })
    await waitUntil(() => impolite.getSnapshot().context.totalRestarts === 1, { what: 'the impolite side to restart when asked' })
    network.heal('a', 'b')
    await until(network, () => polite.getSnapshot().hasTag('connected') && impolite.getSnapshot().hasTag('connected'), 'connected again')
    expect(impolite.getSnapshot().context.recoveries.map((r) => r.cause)).toEqual(['disconnected'])
  })

  it('a connected impolite side restarts when asked, and counts the recovery as asked', async () => {
    const { pair, network } = await connected()
    const { polite, impolite } = roles(pair)
    polite.send({ type: 'ui.restartIce' })
    await until(
      network,
      () => impolite.getSnapshot().context.recoveries.length === 1 && impolite.getSnapshot().hasTag('connected'),
      'the restart done',
    )
    expect(impolite.getSnapshot().context.recoveries.map((r) => r.cause)).toEqual(['asked'])
    expect(impolite.getSnapshot().context.totalRestarts).toBe(1)
  })

  it('an impolite side that gave up tries again when the polite side retries', async () => {
    const { pair, network } = await connected()
    const { polite, impolite } = roles(pair)
    network.partition('a', 'b')
    await until(network, () => polite.getSnapshot().hasTag('failed') && impolite.getSnapshot().hasTag('failed'), 'both to give up')
    network.heal('a', 'b')
    polite.send({ type: 'ui.retry' })
    await until(
      network,
      () => polite.getSnapshot().hasTag('connected') && impolite.getSnapshot().hasTag('connected'),
      'connected after the retry',
    )
    expect(impolite.getSnapshot().context.link.restarts).toBe(0)
  })

  it('drops a request made before a restart that has happened since', async () => {
    const { pair, network } = await connected()
    const { polite, impolite, politeSide } = roles(pair)
    polite.send({ type: 'ui.restartIce' })
    await until(
      network,
      () => impolite.getSnapshot().context.recoveries.length === 1 && impolite.getSnapshot().hasTag('connected'),
      'the restart done',
    )
    const request = pair.sent[politeSide].find((m) => m.kind === 'restart')
    if (!request) throw new Error('the polite side sent no restart request')
    // Sent again with a new number, as a replay that overtook nothing would be: it names the old credentials.
    pair.redeliver(politeSide, { ...request, seq: impolite.getSnapshot().context.signaling.remoteSeq + 1 })
    expect(impolite.getSnapshot().context.dropped.staleRestart).toBe(1)
    expect(impolite.getSnapshot().context.totalRestarts).toBe(1)
    expect(impolite.getSnapshot().hasTag('connected')).toBe(true)
  })
})

describe('a pair that cannot connect directly', () => {
  for (const [name, iceServers, expected] of [
    ['with no TURN server, both sides say why at the first failed attempt, and stop saying it once connected', [], 'no-relay'],
    ['with a TURN server, the first failed attempt is only a retry', [{ urls: 'turn:turn.invalid:3478' }], null],
  ] as const) {
    it(name, async () => {
      const { pair, network } = await negotiating(FAST, [...iceServers])
      // Direct paths are blocked from the start; signaling still flows.
      network.partition('a', 'b')
      pair.setAuto('a', true)
      pair.setAuto('b', true)
      const side = (s: 'a' | 'b') => pair.refs[s].getSnapshot()
      await until(network, () => side('a').context.totalRestarts > 0 && side('b').context.totalRestarts > 0, 'a restart on both sides')
      for (const s of ['a', 'b'] as const) {
        expect(side(s).hasTag('reconnecting')).toBe(true)
        expect(side(s).context.link.failure?.reason ?? null).toBe(expected)
      }
      network.heal('a', 'b')
      await until(network, () => side('a').hasTag('connected') && side('b').hasTag('connected'), 'connected once healed')
      expect(side('a').context.link.failure).toBeNull()
      expect(side('b').context.link.failure).toBeNull()
    })
  }
})
