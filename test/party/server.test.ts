import { createHmac } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CloseCode, MAX_FRAME_BYTES, MAX_LINKS, MAX_NAME_LENGTH, type SignalData } from '../../protocol/messages'
import { startRoomServer, type RoomServer } from '../support/roomServer'
import { TestClient, UpgradeRefused } from '../support/wsClient'
import { waitUntil } from '../support/wait'

const GRACE_MS = 1500
const TURN_SECRET = 'test-turn-shared-secret'

let server: RoomServer
const open: TestClient[] = []

beforeAll(async () => {
  server = await startRoomServer({
    MESHCALL_MAX_PEERS: '3',
    MESHCALL_GRACE_MS: String(GRACE_MS),
    MESHCALL_ICE_URLS: 'stun:127.0.0.1:3478,turn:127.0.0.1:3478?transport=udp',
    MESHCALL_TURN_SECRET: TURN_SECRET,
    MESHCALL_TURN_TTL: '600',
  })
})

afterAll(async () => {
  await Promise.all(open.map((c) => c.close().catch(() => undefined)))
  await server?.stop()
})

let roomCounter = 0
/** A fresh room per test, so tests cannot see each other. */
const freshRoom = () => `room-${process.pid}-${++roomCounter}-${Math.random().toString(36).slice(2, 8)}`

async function join(room: string, query: Record<string, string> = {}) {
  const joined = await TestClient.join(server.wsUrl(room, query))
  open.push(joined.client)
  return joined
}

const offer = (session: number, sdp = 'v=0\r\n'): SignalData => ({
  kind: 'description',
  description: { type: 'offer', sdp },
  session,
})

describe('welcome and presence', () => {
  it('sends welcome first, with a server-chosen id that ignores the client-chosen _pk', async () => {
    const room = freshRoom()
    const { client, welcome } = await join(room, { _pk: 'i-want-this-id', name: 'Ada' })
    expect(client.received[0]).toBe(welcome)
    expect(welcome).toMatchObject({
      type: 'welcome',
      v: 1,
      peers: [],
      maxPeers: 3,
      resumed: false,
      limits: { rate: 50, burst: 200, maxFrameBytes: MAX_FRAME_BYTES },
    })
    expect(welcome.id).not.toBe('i-want-this-id')
    expect(welcome.secret.length).toBeGreaterThanOrEqual(32)
  })

  it('lists peers already in the room with their presence, and tells them of the newcomer', async () => {
    const room = freshRoom()
    const a = await join(room, { name: 'Ada' })
    const b = await join(room, { name: 'Bob' })
    expect(b.welcome.peers).toEqual([{ id: a.welcome.id, presence: { name: 'Ada', mic: false, camera: false, screen: false } }])
    const joined = await a.client.next('peer-joined')
    expect(joined.peer).toEqual({ id: b.welcome.id, presence: { name: 'Bob', mic: false, camera: false, screen: false } })
  })

  it('answers a heartbeat ping with pong to the sender alone', async () => {
    const room = freshRoom()
    const a = await join(room, { name: 'Ada' })
    const b = await join(room, { name: 'Bob' })
    await a.client.next('peer-joined')
    b.client.send({ type: 'ping' })
    expect(await b.client.next('pong')).toEqual({ type: 'pong' })
    // Ada hears nothing of it: her next frame is Bob's presence, sent after the ping.
    b.client.send({ type: 'presence', state: { name: 'Bob', mic: true, camera: false, screen: false } })
    expect((await a.client.next('presence')).from).toBe(b.welcome.id)
    expect(a.client.all('pong')).toEqual([])
  })

  it('fans presence out to everyone else, stamped with the sender id', async () => {
    const room = freshRoom()
    const a = await join(room, { name: 'Ada' })
    const b = await join(room, { name: 'Bob' })
    const c = await join(room, { name: 'Cy' })
    const state = { name: 'Bobby', mic: true, camera: true, screen: false }
    b.client.send({ type: 'presence', state, from: a.welcome.id })
    for (const other of [a, c]) {
      const presence = await other.client.next('presence')
      expect(presence).toEqual({ type: 'presence', from: b.welcome.id, state })
    }
    // A later joiner sees the updated presence in welcome.
    c.client.send({ type: 'bye' })
    await a.client.next('peer-left', (m) => m.id === c.welcome.id)
    const d = await join(room)
    expect(d.welcome.peers.find((p) => p.id === b.welcome.id)?.presence).toEqual(state)
    expect(b.client.all('presence')).toEqual([])
  })
})

describe('signal relay', () => {
  it('delivers a signal only to its target, with the server stamping from', async () => {
    const room = freshRoom()
    const a = await join(room)
    const b = await join(room)
    const c = await join(room)
    a.client.send({ type: 'signal', to: b.welcome.id, data: offer(1, 'first'), from: c.welcome.id })
    const got = await b.client.next('signal')
    expect(got).toEqual({ type: 'signal', from: a.welcome.id, data: offer(1, 'first') })
    // Barrier: C's first signal must be the one addressed to C.
    a.client.send({ type: 'signal', to: c.welcome.id, data: offer(2, 'second') })
    const atC = await c.client.next('signal')
    expect(atC.data).toEqual(offer(2, 'second'))
    expect(c.client.all('signal')).toHaveLength(1)
  })

  it('relays candidates with their usernameFragment and end-of-candidates', async () => {
    const room = freshRoom()
    const a = await join(room)
    const b = await join(room)
    const candidate: SignalData = {
      kind: 'candidate',
      candidate: {
        candidate: 'candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host',
        sdpMid: '0',
        sdpMLineIndex: 0,
        usernameFragment: 'abcd',
      },
      session: 3,
      ack: 7,
    }
    a.client.send({ type: 'signal', to: b.welcome.id, data: candidate })
    a.client.send({ type: 'signal', to: b.welcome.id, data: { kind: 'end-of-candidates', usernameFragment: 'abcd', session: 3 } })
    expect((await b.client.next('signal')).data).toEqual(candidate)
    expect((await b.client.next('signal')).data).toEqual({ kind: 'end-of-candidates', usernameFragment: 'abcd', session: 3 })
  })

  it("relays the polite side's ICE restart request, with the ufrag it names", async () => {
    const room = freshRoom()
    const a = await join(room)
    const b = await join(room)
    const request: SignalData = { kind: 'restart', ufrag: 'Ab+/', session: 3, seq: 9, ack: 7 }
    a.client.send({ type: 'signal', to: b.welcome.id, data: request })
    expect((await b.client.next('signal')).data).toEqual(request)
  })

  it('routes by server identity even when two sockets choose the same _pk', async () => {
    const room = freshRoom()
    const a = await join(room, { _pk: 'same' })
    const b = await join(room, { _pk: 'same' })
    const c = await join(room)
    expect(a.welcome.id).not.toBe(b.welcome.id)
    c.client.send({ type: 'signal', to: a.welcome.id, data: offer(1, 'for-a') })
    c.client.send({ type: 'signal', to: b.welcome.id, data: offer(1, 'for-b') })
    expect((await a.client.next('signal')).data).toEqual(offer(1, 'for-a'))
    expect((await b.client.next('signal')).data).toEqual(offer(1, 'for-b'))
    expect(a.client.all('signal')).toHaveLength(1)
  })
})

describe('bad input gets a clear error and loses nothing', () => {
  it('enforces the display-name limit itself, whatever the UI sends', async () => {
    const room = freshRoom()
    const long = 'N'.repeat(MAX_NAME_LENGTH + 100)
    // In the join URL: cut to the limit, as the lobby would.
    const a = await join(room, { name: `  ${long}  ` })
    const b = await join(room)
    expect(b.welcome.peers[0].presence.name).toBe('N'.repeat(MAX_NAME_LENGTH))
    // In presence: refused, and nobody sees it.
    a.client.send({ type: 'presence', state: { name: long, mic: true, camera: true, screen: false } })
    const error = await a.client.next('error')
    expect(error.code).toBe('bad-message')
    expect(error.message).toMatch(/name/)
    a.client.send({ type: 'presence', state: { name: 'Ada', mic: true, camera: true, screen: false } })
    expect((await b.client.next('presence')).state.name).toBe('Ada')
  })

  it("keeps a presence's links to pairs with members of the room, and refuses malformed or oversized links", async () => {
    const room = freshRoom()
    const a = await join(room)
    const b = await join(room)
    const c = await join(room)
    const state = (links: unknown) => ({ name: 'Ada', mic: true, camera: true, screen: false, links })
    // A pair with someone who is not in the room, and one with oneself, are dropped; the others go through.
    a.client.send({
      type: 'presence',
      state: state({
        [b.welcome.id]: { state: 'failed', reason: 'no-relay' },
        [c.welcome.id]: { state: 'relayed' },
        nobody: { state: 'connected' },
        [a.welcome.id]: { state: 'connected' },
      }),
    })
    const kept = {
      [b.welcome.id]: { state: 'failed', reason: 'no-relay' },
      [c.welcome.id]: { state: 'relayed' },
    }
    expect((await b.client.next('presence')).state.links).toEqual(kept)
    expect((await c.client.next('presence')).state.links).toEqual(kept)
    for (const bad of [
      { [b.welcome.id]: { state: 'on fire' } },
      { [b.welcome.id]: { state: 'failed', reason: 'gremlins' } },
      { 'not an id!': { state: 'connected' } },
      Object.fromEntries(Array.from({ length: MAX_LINKS + 1 }, (_, i) => [`peer${i}`, { state: 'connected' }])),
    ]) {
      a.client.send({ type: 'presence', state: state(bad) })
      expect((await a.client.next('error')).code).toBe('bad-message')
    }
    // Nothing of it reached the others; a good presence still does.
    a.client.send({ type: 'presence', state: state({ [c.welcome.id]: { state: 'reconnecting' } }) })
    // The next presence each hears is that one: the refused ones went nowhere.
    for (const other of [b, c])
      expect((await other.client.next('presence')).state.links).toEqual({ [c.welcome.id]: { state: 'reconnecting' } })
  })

  it('answers malformed frames with bad-message, keeps the socket open and shows others nothing', async () => {
    const room = freshRoom()
    const a = await join(room)
    const b = await join(room)
    const bad: (string | Buffer)[] = [
      'not json',
      '{"type":"launch-missiles"}',
      JSON.stringify({ type: 'signal', to: b.welcome.id }),
      JSON.stringify({ type: 'signal', to: b.welcome.id, data: { kind: 'description', description: { type: 'bogus' }, session: 1 } }),
      JSON.stringify({ type: 'presence', state: { name: '', mic: true, camera: true, screen: true } }),
      '[]',
      Buffer.from([1, 2, 3]),
    ]
    for (const frame of bad) a.client.sendRaw(frame)
    for (let i = 0; i < bad.length; i++) {
      const error = await a.client.next('error')
      expect(error.code).toBe('bad-message')
      expect(error.message.length).toBeGreaterThan(0)
    }
    a.client.send({ type: 'signal', to: b.welcome.id, data: offer(1, 'after') })
    expect((await b.client.next('signal')).data).toEqual(offer(1, 'after'))
    // B saw nothing from the bad frames: no error, no signal, no presence before the good one.
    expect(b.client.all('signal')).toHaveLength(1)
    expect(b.client.all('presence')).toHaveLength(0)
    expect(b.client.all('error')).toHaveLength(0)
    expect(a.client.closed).toBeNull()
  })

  it('drops frames over 64 KiB with too-large and keeps the socket open', async () => {
    const room = freshRoom()
    const a = await join(room)
    const b = await join(room)
    a.client.send({ type: 'signal', to: b.welcome.id, data: offer(1, 'x'.repeat(MAX_FRAME_BYTES)) })
    expect((await a.client.next('error')).code).toBe('too-large')
    // Multi-byte characters count in UTF-8 bytes, not string length.
    a.client.send({ type: 'signal', to: b.welcome.id, data: offer(1, 'é'.repeat(MAX_FRAME_BYTES / 2)) })
    expect((await a.client.next('error')).code).toBe('too-large')
    // Just under the limit passes.
    const fits = offer(1, 'y'.repeat(MAX_FRAME_BYTES - 200))
    a.client.send({ type: 'signal', to: b.welcome.id, data: fits })
    expect((await b.client.next('signal')).data).toEqual(fits)
    expect(b.client.all('signal')).toHaveLength(1)
  })

  it('answers a signal to a peer not in this room with unknown-peer', async () => {
    const room = freshRoom()
    const a = await join(room)
    const elsewhere = await join(freshRoom())
    a.client.send({ type: 'signal', to: 'nobody', data: offer(1) })
    expect((await a.client.next('error')).code).toBe('unknown-peer')
    a.client.send({ type: 'signal', to: elsewhere.welcome.id, data: offer(1) })
    expect((await a.client.next('error')).code).toBe('unknown-peer')
    a.client.send({ type: 'signal', to: a.welcome.id, data: offer(1) })
    expect((await a.client.next('error')).code).toBe('unknown-peer')
    expect(elsewhere.client.all('signal')).toHaveLength(0)
  })

  it('rate-limits a burst past the bucket, then closes a connection that keeps abusing it', async () => {
    const room = freshRoom()
    const a = await join(room)
    const b = await join(room)
    const state = { name: 'Flood', mic: true, camera: false, screen: false }
    // 250 frames at once: the burst of 200 passes, most of the rest do not.
    for (let i = 0; i < 250; i++) a.client.send({ type: 'presence', state })
    const limited = await a.client.next('error', (e) => e.code === 'rate-limited')
    expect(limited.message).toMatch(/frames\/s/)
    expect(a.client.closed).toBeNull()
    // Keep flooding: more than 100 refused frames in 10 s closes the socket.
    for (let i = 0; i < 400; i++) a.client.send({ type: 'presence', state })
    const closed = await a.client.closedWith()
    expect(closed.code).toBe(CloseCode.rateLimited)
    expect(closed.endedByServer).toBe(true)
    const relayed = b.client.all('presence').length
    expect(relayed).toBeGreaterThanOrEqual(200)
    expect(relayed).toBeLessThan(650)
  })
})

describe('capacity and isolation', () => {
  it('refuses a join past maxPeers with room-full and the documented close code, and the connection ends at once', async () => {
    const room = freshRoom()
    await join(room)
    await join(room)
    await join(room)
    const fourth = await TestClient.connect(server.wsUrl(room))
    open.push(fourth)
    const error = await fourth.next('error')
    expect(error.code).toBe('room-full')
    const closed = await fourth.closedWith()
    expect(closed.code).toBe(CloseCode.roomFull)
    // The server ended the TCP connection: the client did not have to give up on it after 1 s.
    expect(closed.endedByServer).toBe(true)
    expect(fourth.all('welcome')).toHaveLength(0)
  })

  it('closes a refused client that does not close itself, and sends it nothing meanwhile', async () => {
    const room = freshRoom()
    const a = await join(room)
    await join(room)
    await join(room)
    const stays = await TestClient.connect(server.wsUrl(room), { honest: false })
    open.push(stays)
    expect((await stays.next('error')).code).toBe('room-full')
    // A member's presence while the refused socket is still open goes to members only.
    a.client.send({ type: 'presence', state: { name: 'Ada', mic: true, camera: true, screen: false } })
    const closed = await stays.closedWith(15_000)
    expect(closed.code).toBe(CloseCode.roomFull)
    expect(stays.received.map((m) => m.type)).toEqual(['error'])
  })

  it('a flood of 1,000 join attempts at a full room: each refused with room-full and its close code, while the members signal on, nothing lost', async () => {
    const room = freshRoom()
    const [a, b, c] = [await join(room), await join(room), await join(room)]
    // a signals b every 25 ms (40 frames/s, under the rate limit), stamped, all along.
    const sentAt: number[] = []
    const arrivedAt = new Map<number, number>()
    b.client.socket.on('message', (raw) => {
      const message = JSON.parse(raw.toString()) as { type: string; data?: { seq?: number } }
      if (message.type === 'signal' && message.data?.seq !== undefined) arrivedAt.set(message.data.seq, Date.now())
    })
    let pumping = true
    const pump = (async () => {
      while (pumping) {
        const seq = sentAt.length + 1
        sentAt.push(Date.now())
        a.client.send({ type: 'signal', to: b.welcome.id, data: { kind: 'end-of-candidates', session: 1, seq } })
        await new Promise((resolve) => setTimeout(resolve, 25))
      }
    })()
    const relayMs = (from: number, to: number) =>
      sentAt
        .slice(from, to)
        .map((t, i) => (arrivedAt.get(from + i + 1) ?? Infinity) - t)
        .sort((x, y) => x - y)
    await waitUntil(() => arrivedAt.size >= 40, { what: 'a first second of signals' })
    const quietEnd = sentAt.length

    let refused = 0
    const WAVE = 50
    for (let wave = 0; wave < 1_000 / WAVE; wave++) {
      await Promise.all(
        Array.from({ length: WAVE }, async () => {
          const intruder = await TestClient.connect(server.wsUrl(room))
          const error = await intruder.next('error')
          const closed = await intruder.closedWith()
          if (
            error.code === 'room-full' &&
            closed.code === CloseCode.roomFull &&
            closed.endedByServer &&
            intruder.all('welcome').length === 0
          )
            refused++
        }),
      )
    }
    const floodEnd = sentAt.length
    pumping = false
    await pump
    await waitUntil(() => arrivedAt.size === sentAt.length, {
      what: "every one of a's signals at b",
      describe: () => ({ sent: sentAt.length, arrived: arrivedAt.size }),
    })

    expect(refused).toBe(1_000)
    // In order, none lost, none twice: b's signals are exactly a's, 1..n.
    const order = b.client.all('signal').map((m) => m.data.seq)
    expect(order).toEqual(sentAt.map((_, i) => i + 1))
    // The intruders were never members: nobody heard of them (a heard of b and c, b of c).
    expect(a.client.all('peer-joined').length + b.client.all('peer-joined').length + c.client.all('peer-joined').length).toBe(3)
    const quiet = relayMs(0, quietEnd)
    const flood = relayMs(quietEnd, floodEnd)
    const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]
    console.log(
      `relay a→b, p50/p99: ${pct(quiet, 50)}/${pct(quiet, 99)} ms before the flood (${quiet.length} signals), ` +
        `${pct(flood, 50)}/${pct(flood, 99)} ms during it (${flood.length} signals, 1,000 refused joins)`,
    )
  }, 120_000)

  it('keeps rooms apart: joins, presence and signals never cross', async () => {
    const x = freshRoom()
    const y = freshRoom()
    const x1 = await join(x)
    const y1 = await join(y)
    const y2 = await join(y)
    y1.client.send({ type: 'presence', state: { name: 'Y', mic: true, camera: true, screen: true } })
    y1.client.send({ type: 'signal', to: y2.welcome.id, data: offer(1) })
    await y2.client.next('signal')
    const x2 = await join(x)
    await x1.client.next('peer-joined', (m) => m.peer.id === x2.welcome.id)
    expect(x1.client.received.map((m) => m.type)).toEqual(['welcome', 'peer-joined'])
    expect(x2.welcome.peers.map((p) => p.id)).toEqual([x1.welcome.id])
  })

  it('refuses invalid room names and protocol versions before the upgrade with HTTP 400', async () => {
    for (const name of ['has%20space', 'a.b', 'x'.repeat(65), '%C3%A9']) {
      await expect(TestClient.connect(server.wsUrl(name))).rejects.toMatchObject({ status: 400 })
    }
    const ok = await join('x'.repeat(64))
    expect(ok.welcome.type).toBe('welcome')
    const refused = await TestClient.connect(server.wsUrl(freshRoom(), { v: '2' })).catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(UpgradeRefused)
    expect((refused as UpgradeRefused).status).toBe(400)
    expect((refused as UpgradeRefused).body).toMatch(/protocol version/)
  })
})

describe('identity, resume and the grace period', () => {
  it('keeps the id for a reconnect with the secret, unseen by others, and delivers signals held meanwhile', async () => {
    const room = freshRoom()
    const a = await join(room, { name: 'Ada' })
    const b = await join(room, { name: 'Bob' })
    const x = await join(room, { name: 'Xavier' })
    a.client.terminate()
    // While A is away, B signals it: the server holds the frame.
    b.client.send({ type: 'signal', to: a.welcome.id, data: offer(4, 'while-away') })
    const back = await join(room, { resume: `${a.welcome.id}.${a.welcome.secret}` })
    expect(back.welcome).toMatchObject({ id: a.welcome.id, resumed: true })
    expect(back.welcome.peers.map((p) => p.id).sort()).toEqual([b.welcome.id, x.welcome.id].sort())
    expect((await back.client.next('signal')).data).toEqual(offer(4, 'while-away'))
    // X vanishes after A came back, so X's grace ends after A's would have:
    // once B hears X left, A's grace period has certainly run out.
    x.client.terminate()
    await b.client.next('peer-left', (m) => m.id === x.welcome.id, GRACE_MS + 5_000)
    expect(b.client.all('peer-left').map((m) => m.id)).toEqual([x.welcome.id])
    expect(b.client.all('peer-joined').map((m) => m.peer.id)).toEqual([x.welcome.id])
  })

  it('gives a fresh id to a takeover attempt with a wrong secret and leaves the owner alone', async () => {
    const room = freshRoom()
    const a = await join(room)
    const b = await join(room)
    const thief = await join(room, { resume: `${a.welcome.id}.not-the-secret` })
    expect(thief.welcome.id).not.toBe(a.welcome.id)
    expect(thief.welcome.resumed).toBe(false)
    b.client.send({ type: 'signal', to: a.welcome.id, data: offer(1, 'still-mine') })
    expect((await a.client.next('signal')).data).toEqual(offer(1, 'still-mine'))
    expect(thief.client.all('signal')).toHaveLength(0)
    expect(a.client.closed).toBeNull()
  })

  it('lets a resume on a new socket replace a still-open old one', async () => {
    const room = freshRoom()
    const a = await join(room)
    const b = await join(room)
    // A client speaks on its socket (presence, heartbeat) before it can be replaced.
    a.client.send({ type: 'ping' })
    await a.client.next('pong')
    const a2 = await join(room, { resume: `${a.welcome.id}.${a.welcome.secret}` })
    expect(a2.welcome.resumed).toBe(true)
    const closed = await a.client.closedWith()
    expect(closed.code).toBe(CloseCode.replaced)
    expect(closed.endedByServer).toBe(true)
    b.client.send({ type: 'signal', to: a.welcome.id, data: offer(1, 'to-new-socket') })
    expect((await a2.client.next('signal')).data).toEqual(offer(1, 'to-new-socket'))
    expect(b.client.all('peer-left')).toHaveLength(0)
  })

  it('tells everyone peer-left when the grace period runs out', async () => {
    const room = freshRoom()
    const a = await join(room)
    const b = await join(room)
    const left = Date.now()
    a.client.terminate()
    const gone = await b.client.next('peer-left', () => true, GRACE_MS + 5_000)
    expect(gone).toEqual({ type: 'peer-left', id: a.welcome.id, reason: 'timeout' })
    expect(Date.now() - left).toBeGreaterThanOrEqual(GRACE_MS - 50)
    // Too late to resume: the secret now buys nothing.
    const late = await join(room, { resume: `${a.welcome.id}.${a.welcome.secret}` })
    expect(late.welcome.resumed).toBe(false)
    expect(late.welcome.id).not.toBe(a.welcome.id)
  })

  it('sends peer-left at once on bye and closes the socket with the left code', async () => {
    const room = freshRoom()
    const a = await join(room)
    const b = await join(room)
    a.client.send({ type: 'bye' })
    expect(await b.client.next('peer-left', () => true, 1_000)).toEqual({ type: 'peer-left', id: a.welcome.id, reason: 'bye' })
    expect((await a.client.closedWith()).code).toBe(CloseCode.left)
  })

  it('counts a peer away within its grace period towards capacity', async () => {
    const room = freshRoom()
    const a = await join(room)
    await join(room)
    await join(room)
    a.client.terminate()
    const fourth = await TestClient.connect(server.wsUrl(room))
    open.push(fourth)
    expect((await fourth.next('error')).code).toBe('room-full')
    // The away member can still come back into its own place.
    const back = await join(room, { resume: `${a.welcome.id}.${a.welcome.secret}` })
    expect(back.welcome.resumed).toBe(true)
  })
})

describe('ICE servers', () => {
  it('hands out STUN as configured and TURN with coturn use-auth-secret credentials', async () => {
    const before = Math.floor(Date.now() / 1000)
    const { welcome } = await join(freshRoom())
    const stun = welcome.iceServers.find((s) => JSON.stringify(s.urls).includes('stun:'))
    const turn = welcome.iceServers.find((s) => JSON.stringify(s.urls).includes('turn:'))
    expect(stun).toEqual({ urls: ['stun:127.0.0.1:3478'] })
    expect(turn?.urls).toEqual(['turn:127.0.0.1:3478?transport=udp'])
    const [expiry, peerId] = (turn?.username ?? '').split(':')
    expect(peerId).toBe(welcome.id)
    expect(Number(expiry)).toBeGreaterThanOrEqual(before + 600)
    expect(Number(expiry)).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000) + 600)
    const expected = createHmac('sha1', TURN_SECRET)
      .update(turn?.username ?? '')
      .digest('base64')
    expect(turn?.credential).toBe(expected)
  })
})

describe('restart', () => {
  it('lets peers resume their ids after the room server process restarts', async () => {
    const room = freshRoom()
    const a = await join(room, { name: 'Ada' })
    const b = await join(room, { name: 'Bob' })
    await server.restart()
    const a2 = await join(room, { resume: `${a.welcome.id}.${a.welcome.secret}` })
    const b2 = await join(room, { resume: `${b.welcome.id}.${b.welcome.secret}` })
    expect(a2.welcome).toMatchObject({ id: a.welcome.id, resumed: true })
    expect(b2.welcome).toMatchObject({ id: b.welcome.id, resumed: true })
    expect(b2.welcome.peers.map((p) => p.id)).toEqual([a.welcome.id])
    a2.client.send({ type: 'signal', to: b.welcome.id, data: offer(2, 'after-restart') })
    expect((await b2.client.next('signal')).data).toEqual(offer(2, 'after-restart'))
  })
})

describe('start-up warnings', () => {
  const WARNING = 'no TURN server configured'

  it('warns once when a room starts with STUN but no TURN (a deployment that cannot relay), and not when TURN is there', async () => {
    const stunOnly = await startRoomServer({ MESHCALL_ICE_URLS: 'stun:127.0.0.1:3478' })
    try {
      const room = freshRoom()
      const { client } = await TestClient.join(stunOnly.wsUrl(room, { name: 'Ada' }))
      // One line per room that starts (the start-up probe's room has its own).
      const warnings = () =>
        stunOnly
          .output()
          .split('\n')
          .filter((line) => line.includes(WARNING) && line.includes(`"room":"${room}"`))
      await waitUntil(() => warnings().length > 0, { what: 'the warning in the room server log' })
      await TestClient.join(stunOnly.wsUrl(room, { name: 'Bob' }))
      await client.close()
      expect(warnings()).toHaveLength(1)
    } finally {
      await stunOnly.stop()
    }
    await join(freshRoom(), { name: 'Bob' })
    expect(server.output()).not.toContain(WARNING)
  })
})
