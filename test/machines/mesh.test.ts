import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { LogRecord } from '../../lib/log'
import { CHAT_BURST, CHAT_RATE } from '../../protocol/channel'
import { iceUfrags } from '../../machines/peerMedia'
import { isFullyConnected, report, startBot, stopBot, type Bot, type BotOptions } from '../../machines/node/bots'
import { activeSyntheticTracks, stopAllSynthetic } from '../../machines/node/syntheticMedia'
import { startRoomServer, type RoomServer } from '../support/roomServer'
import { waitUntil } from '../support/wait'

// Real partykit dev, real libwebrtc (@roamhq/wrtc) with synthetic media.
const GRACE_MS = 8_000
let server: RoomServer
let bots: Bot[] = []
const logs: LogRecord[] = []
let roomCounter = 0

beforeAll(async () => {
  server = await startRoomServer({ MESHCALL_GRACE_MS: String(GRACE_MS) })
})

afterEach(async () => {
  await Promise.all(bots.map(stopBot))
  bots = []
  logs.length = 0
  // Every call that ended released its camera, microphone and screen (the
  // generators notice a stopped track on their next tick).
  await waitUntil(() => activeSyntheticTracks() === 0, {
    timeoutMs: 2_000,
    what: 'every synthetic track to stop',
    describe: () => activeSyntheticTracks(),
  })
})

afterAll(async () => {
  // libwebrtc's binding may crash at process exit with live tracks.
  stopAllSynthetic()
  await server?.stop()
})

function options(overrides: Partial<BotOptions> = {}): BotOptions {
  return {
    host: server.host,
    room: `mesh-${process.pid}-${++roomCounter}`,
    count: 0,
    logLevel: 'warn',
    logSink: (record) => logs.push(record),
    // Short timings so recovery paths finish within a test.
    timings: { disconnectedMs: 1_000, restartBackoffMs: 1_000 },
    ...overrides,
  }
}

function join(opts: BotOptions, index: number): Bot {
  const bot = startBot(opts, index)
  bots.push(bot)
  return bot
}

const describeBots = () =>
  bots.map((b) => {
    const s = b.call.getSnapshot()
    return {
      name: b.name,
      id: s.context.selfId,
      state: s.value,
      peers: Object.fromEntries(
        Object.entries(s.context.peers).map(([id, ref]) => {
          const p = ref.getSnapshot()
          return [id, { value: p.value, connectionState: p.context.link.connectionState, errors: p.context.errors }]
        }),
      ),
    }
  })

async function fullMesh(expected: number, timeoutMs = 45_000) {
  await waitUntil(() => bots.length === expected && bots.every((b) => isFullyConnected(b, expected - 1)), {
    timeoutMs,
    what: `a full mesh of ${expected}`,
    describe: describeBots,
  })
}

/** Video frames each bot decoded from each peer, keyed "bot>peer". */
async function frames(): Promise<Map<string, number>> {
  const result = new Map<string, number>()
  for (const bot of bots) {
    const r = await report(bot)
    for (const peer of r.peers) result.set(`${r.id}>${peer.id}`, peer.framesReceived)
  }
  return result
}

/** Waits until every pair has decoded `more` frames beyond `since`, both ways. */
async function mediaFlows(since: Map<string, number>, more = 10, timeoutMs = 30_000) {
  let last = new Map<string, number>()
  await waitUntil(
    async () => {
      last = await frames()
      return [...last.entries()].every(([key, n]) => n >= (since.get(key) ?? 0) + more)
    },
    { timeoutMs, what: `${more} more video frames on every pair, both ways`, describe: () => Object.fromEntries(last) },
  )
  return last
}

/** Failed WebRTC operations recorded by any peer machine, and error-level log lines. */
function unhandledErrors() {
  const failed = bots.flatMap((b) => Object.values(b.call.getSnapshot().context.peers).flatMap((ref) => ref.getSnapshot().context.errors))
  return [...failed, ...logs.filter((record) => record.level === 'error')]
}

describe('a room of bots with real WebRTC', () => {
  for (const n of [2, 3, 6]) {
    it(`${n} peers joining one after another reach a full mesh, with media both ways and chat over data channels`, async () => {
      const opts = options()
      for (let i = 1; i <= n; i++) {
        const bot = join(opts, i)
        await waitUntil(() => bot.call.getSnapshot().matches({ online: 'joined' }), { what: `${bot.name} joined` })
      }
      await fullMesh(n)
      const flowing = await mediaFlows(new Map())
      expect(flowing.size).toBe(n * (n - 1))

      // Every channel round-tripped its opening ping.
      for (const bot of bots) {
        for (const ref of Object.values(bot.call.getSnapshot().context.peers)) {
          await waitUntil(() => ref.getSnapshot().context.channelRtt !== null, { what: 'a data-channel ping round trip' })
        }
      }
      bots[0].call.send({ type: 'ui.chat', text: `hello from ${bots[0].name}` })
      for (const bot of bots.slice(1)) {
        await waitUntil(() => bot.call.getSnapshot().context.chat.some((c) => c.text === `hello from ${bots[0].name}`), {
          what: `${bot.name} to receive the chat message`,
        })
      }
      expect(unhandledErrors()).toEqual([])
    }, 120_000)
  }

  it('a peer that floods the chat is cut to its rate at the receiver, and nothing else is lost', async () => {
    const opts = options()
    const [a, b] = [join(opts, 1), join(opts, 2)]
    await fullMesh(2)
    const [ref] = Object.values(b.call.getSnapshot().context.peers)
    await waitUntil(() => ref.getSnapshot().context.channelRtt !== null, { what: "b's data channel to round-trip a ping" })
    const SENT = 40
    const startedAt = Date.now()
    for (let i = 0; i < SENT; i++) a.call.send({ type: 'ui.chat', text: `flood ${i}` })
    const received = () => b.call.getSnapshot().context.chat.filter((c) => c.text.startsWith('flood ')).length
    await waitUntil(() => received() + b.call.getSnapshot().context.chatDropped === SENT, {
      what: 'every chat message received or dropped',
      describe: () => ({ received: received(), dropped: b.call.getSnapshot().context.chatDropped }),
    })
    const seconds = (Date.now() - startedAt) / 1000
    // The burst passes, then at most the rate's refill for the time it took.
    expect(received()).toBeGreaterThanOrEqual(CHAT_BURST)
    expect(received()).toBeLessThanOrEqual(CHAT_BURST + Math.ceil(CHAT_RATE * seconds))
    // The first ones are the ones kept, in order.
    expect(
      b.call
        .getSnapshot()
        .context.chat.slice(0, CHAT_BURST)
        .map((c) => c.text),
    ).toEqual(Array.from({ length: CHAT_BURST }, (_, i) => `flood ${i}`))
    // The pair itself is untouched: still connected, its channel still heard.
    expect(isFullyConnected(a, 1) && isFullyConnected(b, 1)).toBe(true)
    expect(ref.getSnapshot().hasTag('connected')).toBe(true)
  }, 60_000)

  it('six peers joining at the same instant reach a full mesh with no pair stuck and no unhandled error', async () => {
    // No waiting for the newcomer's offer: both sides of every pair offer at
    // once, so every pair starts in glare.
    const opts = options({ timings: { disconnectedMs: 1_000, restartBackoffMs: 1_000, firstOfferWaitMs: 0 } })
    for (let i = 1; i <= 6; i++) join(opts, i)
    await fullMesh(6, 60_000)
    await mediaFlows(new Map())
    // No pair stuck: every negotiation comes to rest, on both sides.
    await waitUntil(
      () =>
        bots.every((bot) =>
          Object.values(bot.call.getSnapshot().context.peers).every((ref) => {
            const peer = ref.getSnapshot()
            return peer.matches({ active: { negotiation: 'stable' } }) && peer.context.link.pc.signalingState === 'stable'
          }),
        ),
      { what: 'every negotiation to come to rest', describe: describeBots },
    )
    const glare = bots.flatMap((bot) => Object.values(bot.call.getSnapshot().context.peers)).map((ref) => ref.getSnapshot().context)
    // Glare really happened, and only impolite sides ignored offers.
    expect(glare.some((c) => c.ignoredOffers > 0)).toBe(true)
    expect(glare.filter((c) => c.polite).every((c) => c.ignoredOffers === 0)).toBe(true)
    expect(unhandledErrors()).toEqual([])
  }, 120_000)

  it('both sides of a pair adding a track at the same moment end stable with both tracks', async () => {
    const opts = options()
    const a = join(opts, 1)
    const b = join(opts, 2)
    await fullMesh(2)
    a.call.getSnapshot().context.media.send({ type: 'ui.startScreen' })
    b.call.getSnapshot().context.media.send({ type: 'ui.startScreen' })
    for (const bot of [a, b]) {
      const [ref] = Object.values(bot.call.getSnapshot().context.peers)
      await waitUntil(
        () => {
          const peer = ref.getSnapshot()
          return (
            peer.context.link.remoteTracks.screen &&
            peer.context.link.senders.screen !== null &&
            peer.matches({ active: { negotiation: 'stable' } }) &&
            peer.context.link.pc.signalingState === 'stable'
          )
        },
        { what: `${bot.name} stable with its own and the remote screen track`, describe: describeBots },
      )
      const peer = ref.getSnapshot()
      expect(peer.context.link.remoteScreen.getVideoTracks()).toHaveLength(1)
      expect(peer.context.link.remoteStream.getVideoTracks()).toHaveLength(1)
      expect(peer.context.link.remoteStream.getAudioTracks()).toHaveLength(1)
    }
    expect(unhandledErrors()).toEqual([])
  }, 90_000)

  it('a forced ICE restart on one pair ends connected again with new credentials, and media resumes', async () => {
    const opts = options()
    const a = join(opts, 1)
    join(opts, 2)
    await fullMesh(2)
    const before = await mediaFlows(new Map())
    const [ref] = Object.values(a.call.getSnapshot().context.peers)
    const ufragBefore = iceUfrags(ref.getSnapshot().context.link.pc.localDescription?.sdp)[0]
    ref.send({ type: 'ui.restartIce' })
    await waitUntil(() => ref.getSnapshot().context.totalRestarts === 1, { what: 'the restart to start' })
    await waitUntil(
      () => {
        const peer = ref.getSnapshot()
        const ufrag = iceUfrags(peer.context.link.pc.localDescription?.sdp)[0]
        return peer.hasTag('connected') && ufrag !== ufragBefore && peer.context.link.pc.signalingState === 'stable'
      },
      { what: 'connected again with a new ICE ufrag', describe: describeBots },
    )
    await mediaFlows(before)
    // The restart is one recovery, with its cause, in the bot's summary.
    await waitUntil(() => ref.getSnapshot().context.recoveries.length === 1, { what: 'the recovery recorded' })
    expect(ref.getSnapshot().context.recoveries[0]).toMatchObject({ cause: 'restart', ms: expect.any(Number) })
    const [peerReport] = (await report(a)).peers
    expect(peerReport.recoveries).toEqual(ref.getSnapshot().context.recoveries)
    expect(unhandledErrors()).toEqual([])
  }, 90_000)

  it("a peer that does not want someone's video stops that sender's encoder for it alone, and gets video back when it asks", async () => {
    const opts = options()
    const a = join(opts, 1)
    const b = join(opts, 2)
    join(opts, 3)
    await fullMesh(3)
    await mediaFlows(new Map())
    const idOf = (bot: Bot) => bot.call.getSnapshot().context.selfId!
    const peerOf = (bot: Bot, other: Bot) => bot.call.getSnapshot().context.peers[idOf(other)]
    const cameraActive = (bot: Bot, other: Bot) => {
      const pc = peerOf(bot, other).getSnapshot().context.link.pc as unknown as RTCPeerConnection
      const sender = pc.getSenders().find((s) => s.track?.kind === 'video')
      return sender?.getParameters().encodings[0]?.active
    }
    const framesAt = async (bot: Bot) => new Map((await report(bot)).peers.map((p) => [p.id, p.framesReceived]))
    const [bId, cId] = [idOf(b), idOf(bots[2])]

    peerOf(a, b).send({ type: 'ui.wantVideo', want: false })
    await waitUntil(() => cameraActive(b, a) === false, { what: "Bob's camera copy for Ada made inactive", describe: describeBots })
    expect(cameraActive(b, bots[2])).toBe(true)
    expect(peerOf(b, a).getSnapshot().context.encoding.camera.active).toBe(false)
    // Ada keeps getting Cy's video, and no more of Bob's.
    const before = await framesAt(a)
    await waitUntil(async () => ((await framesAt(a)).get(cId) ?? 0) >= (before.get(cId) ?? 0) + 30, {
      what: "30 more frames from Cy at Ada's",
    })
    const stopped = await framesAt(a)
    await waitUntil(async () => ((await framesAt(a)).get(cId) ?? 0) >= (stopped.get(cId) ?? 0) + 30, { what: '30 more again' })
    expect(((await framesAt(a)).get(bId) ?? 0) - (stopped.get(bId) ?? 0)).toBe(0)

    peerOf(a, b).send({ type: 'ui.wantVideo', want: true })
    await waitUntil(() => cameraActive(b, a) === true, { what: "Bob's camera copy for Ada active again" })
    await mediaFlows(await frames())
    expect(unhandledErrors()).toEqual([])
  }, 90_000)

  it("the low-bandwidth setting switched during the call lowers every sender's budget at once, and switching back restores it", async () => {
    const opts = options()
    const a = join(opts, 1)
    join(opts, 2)
    join(opts, 3)
    await fullMesh(3)
    await mediaFlows(new Map())
    const maxBitrates = () =>
      Object.values(a.call.getSnapshot().context.peers).map((ref) => {
        const pc = ref.getSnapshot().context.link.pc as unknown as RTCPeerConnection
        return (
          pc
            .getSenders()
            .find((s) => s.track?.kind === 'video')
            ?.getParameters().encodings[0]?.maxBitrate ?? null
        )
      })
    const standard = maxBitrates()
    expect(standard.every((bps) => bps !== null && bps > 0)).toBe(true)
    a.call.send({ type: 'ui.setVideoQuality', quality: 'low' })
    // The low budget (600 kbit/s) shared by two pairs: each sender well under the standard's.
    await waitUntil(() => maxBitrates().every((bps, i) => bps !== null && bps < standard[i]! && bps <= 300_000), {
      what: "Ada's senders on the low budget",
      describe: () => ({ standard, now: maxBitrates() }),
    })
    expect(a.call.getSnapshot().context.uplinkBps).toBe(600_000)
    a.call.send({ type: 'ui.setVideoQuality', quality: 'standard' })
    await waitUntil(() => maxBitrates().every((bps, i) => bps === standard[i]), { what: "Ada's senders back on the standard budget" })
    await mediaFlows(await frames())
    expect(unhandledErrors()).toEqual([])
  }, 90_000)

  it("everyone sees the whole mesh: a participant whose pairs cannot connect says so in its presence, and the others' pair stays connected", async () => {
    const opts = options({ timings: { disconnectedMs: 1_000, restartBackoffMs: 1_000, connectTimeoutMs: 2_000 } })
    // Relay only, in a room with no TURN server: this participant's pairs can never connect.
    const stuck = join({ ...opts, relay: true }, 1)
    const b = join(opts, 2)
    const c = join(opts, 3)
    const idOf = (bot: Bot) => bot.call.getSnapshot().context.selfId
    const connectedTo = (bot: Bot, other: Bot) => {
      const id = idOf(other)
      const ref = id ? bot.call.getSnapshot().context.peers[id] : undefined
      return ref?.getSnapshot().hasTag('connected') ?? false
    }
    await waitUntil(() => connectedTo(b, c) && connectedTo(c, b) && idOf(stuck) !== null, { what: 'Bob and Cy connected' })
    const [stuckId, bId, cId] = [stuck, b, c].map((bot) => idOf(bot)!)
    // What Bob reads of the others' pairs, from their presence.
    const linksAt = (viewer: Bot, of: string) => viewer.call.getSnapshot().context.roster[of]?.links ?? {}
    await waitUntil(
      () =>
        linksAt(b, stuckId)[bId]?.state === 'failed' &&
        linksAt(b, stuckId)[bId]?.reason === 'no-relay' &&
        linksAt(b, stuckId)[cId]?.reason === 'no-relay' &&
        linksAt(b, cId)[bId]?.state === 'connected' &&
        linksAt(c, bId)[cId]?.state === 'connected',
      {
        timeoutMs: 30_000,
        what: "every pair's state in the presence everyone sees",
        describe: () => [linksAt(b, stuckId), linksAt(b, cId), linksAt(c, bId)],
      },
    )
    expect(linksAt(c, stuckId)).toEqual(linksAt(b, stuckId))
    // Cy's pair with the stuck participant is not connected either, by Cy's own word.
    expect(linksAt(b, cId)[stuckId]?.state).not.toBe('connected')
  }, 60_000)

  it('a network change reconnects the socket at once and restarts ICE with every peer, leaving the other pairs alone', async () => {
    const opts = options()
    const moved = join(opts, 1)
    join(opts, 2)
    join(opts, 3)
    await fullMesh(3)
    const before = await mediaFlows(new Map())
    const ufrags = () =>
      new Map(
        bots.flatMap((b) =>
          Object.entries(b.call.getSnapshot().context.peers).map(([id, ref]) => [
            `${b.name}→${id}`,
            iceUfrags(ref.getSnapshot().context.link.pc.localDescription?.sdp)[0],
          ]),
        ),
      )
    const ufragsBefore = ufrags()
    const states: string[] = []
    const watch = moved.call.subscribe((s) => states.push(JSON.stringify(s.value)))
    // What the runtime's network watch sends (the network lab changes a real address).
    moved.call.send({ type: 'network.changed', what: 'addresses changed: -eth0 100.64.1.2, +eth0 100.64.1.3' })
    const movedId = moved.call.getSnapshot().context.selfId!
    const touchesMoved = (key: string) => key.startsWith(`${moved.name}→`) || key.endsWith(`→${movedId}`)
    await waitUntil(
      () =>
        [...ufrags()].every(([key, ufrag]) => (touchesMoved(key) ? ufrag !== ufragsBefore.get(key) : ufrag === ufragsBefore.get(key))) &&
        bots.every((b) => isFullyConnected(b, 2)),
      { what: "new ICE credentials on both sides of the moved participant's pairs, and a full mesh", describe: describeBots },
    )
    watch.unsubscribe()
    expect(states).toContain(JSON.stringify({ online: 'reconnecting' }))
    expect(moved.call.getSnapshot().matches({ online: 'joined' })).toBe(true)
    // Each of its pairs recovered, for the network's sake; the pair between the others never restarted.
    for (const ref of Object.values(moved.call.getSnapshot().context.peers)) {
      await waitUntil(() => ref.getSnapshot().context.recoveries.length > 0, { what: 'the recovery recorded' })
      expect(ref.getSnapshot().context.recoveries.map((r) => r.cause)).toEqual(['network'])
    }
    const others = bots.filter((b) => b !== moved)
    for (const b of others) {
      const peers = b.call.getSnapshot().context.peers
      const [, ref] = Object.entries(peers).find(([id]) => id !== movedId)!
      expect(ref.getSnapshot().context.totalRestarts).toBe(0)
    }
    await mediaFlows(before)
    expect(unhandledErrors()).toEqual([])
  }, 90_000)

  it('drops a peer that leaves cleanly and one that vanishes, leaving no connection open', async () => {
    const opts = options()
    for (let i = 1; i <= 4; i++) join(opts, i)
    await fullMesh(4)
    const [stay1, stay2, leaver, vanisher] = bots
    const leaverId = leaver.call.getSnapshot().context.selfId as string
    const vanisherId = vanisher.call.getSnapshot().context.selfId as string
    const towardsGone = [stay1, stay2].flatMap((bot) => {
      const peers = bot.call.getSnapshot().context.peers
      return [peers[leaverId], peers[vanisherId]]
    })
    const ownConnections = [leaver, vanisher].flatMap((bot) =>
      Object.values(bot.call.getSnapshot().context.peers).map((ref) => ref.getSnapshot().context.link.pc),
    )

    await stopBot(leaver)
    // Vanish: the process's actors stop with no bye, as a crash or a closed laptop would.
    vanisher.call.stop()
    bots = [stay1, stay2]

    for (const bot of bots) {
      await waitUntil(
        () => {
          const roster = Object.keys(bot.call.getSnapshot().context.roster)
          return !roster.includes(leaverId) && !roster.includes(vanisherId)
        },
        { timeoutMs: GRACE_MS + 10_000, what: `${bot.name} to drop both`, describe: describeBots },
      )
      expect(Object.keys(bot.call.getSnapshot().context.peers)).toHaveLength(1)
    }
    for (const pc of [...towardsGone.map((ref) => ref.getSnapshot().context.link.pc), ...ownConnections]) {
      expect(pc.connectionState).toBe('closed')
    }
    await fullMesh(2)
  }, 90_000)

  it('keeps media flowing while the room server is down, and everyone rejoins with a consistent roster', async () => {
    const opts = options()
    for (let i = 1; i <= 3; i++) join(opts, i)
    await fullMesh(3)
    const ids = bots.map((b) => b.call.getSnapshot().context.selfId)
    const before = await mediaFlows(new Map())

    await server.kill()
    await waitUntil(() => bots.every((b) => b.call.getSnapshot().hasTag('reconnecting')), {
      what: 'every bot to notice the outage',
    })
    // Media keeps flowing while there is no signaling at all.
    const during = await mediaFlows(before)
    expect(bots.every((b) => Object.values(b.call.getSnapshot().context.peers).every((r) => r.getSnapshot().hasTag('connected')))).toBe(
      true,
    )

    await server.restart()
    await waitUntil(() => bots.every((b) => b.call.getSnapshot().matches({ online: 'joined' })), {
      timeoutMs: 20_000,
      what: 'every bot to rejoin',
      describe: describeBots,
    })
    for (const bot of bots) {
      const context = bot.call.getSnapshot().context
      expect(ids).toContain(context.selfId)
      expect(Object.keys(context.roster).sort()).toEqual(ids.filter((id) => id !== context.selfId).sort())
    }
    await fullMesh(3)
    await mediaFlows(during)
    expect(unhandledErrors()).toEqual([])
  }, 120_000)

  it('notices a room server gone silent by its heartbeat, keeps media flowing, and connects everyone once it answers again', async () => {
    const opts = options({ heartbeat: { intervalMs: 300, timeoutMs: 1_500, probeMs: 500 } })
    join(opts, 1)
    join(opts, 2)
    await fullMesh(2)
    const before = await mediaFlows(new Map())
    // No FIN, no RST: the server's sockets stay open and nothing is answered.
    server.pause()
    try {
      await waitUntil(() => bots.every((b) => b.call.getSnapshot().hasTag('reconnecting')), {
        what: 'every bot to notice the silence',
      })
      const during = await mediaFlows(before)
      // Someone joins while the server is silent.
      join(opts, 3)
      server.resume()
      await fullMesh(3)
      await mediaFlows(during)
    } finally {
      server.resume()
    }
    // Nothing went wrong on the way back: no error logged, no unhandled error.
    expect(logs.filter((r) => r.level === 'error')).toEqual([])
    expect(unhandledErrors()).toEqual([])
  }, 120_000)
})
