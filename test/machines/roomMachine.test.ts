import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { silentLogger } from '../../lib/log'
import { createCall, type Call } from '../../machines/createCall'
import { nodeWebRTC } from '../../machines/node/wrtc'
import { mintToken } from '../../party/auth'
import { freePort, startRoomServer, type RoomServer } from '../support/roomServer'
import { waitUntil } from '../support/wait'
import { WebSocket } from 'ws'

const SECRET = 'room-machine-test-secret'
let small: RoomServer
let guarded: RoomServer
let calls: Call[] = []

beforeAll(async () => {
  ;[small, guarded] = await Promise.all([startRoomServer({ MESHCALL_MAX_PEERS: '1' }), startRoomServer({ MESHCALL_AUTH_SECRET: SECRET })])
})
afterEach(() => {
  for (const call of calls) call.stop()
  calls = []
})
afterAll(async () => {
  await Promise.all([small?.stop(), guarded?.stop()])
})

/** Closed sockets of `WatchedWebSocket`, and whether the server ended each TCP connection. */
const socketsClosed: { code: number; endedByServer: boolean }[] = []

/**
 * The client's WebSocket, watched: it waits 1 s at most for the server to
 * end the TCP connection after the close handshake, and records whether
 * the server did.
 */
class WatchedWebSocket extends WebSocket {
  constructor(url: string | URL, protocols?: string | string[]) {
    super(url, protocols, { closeTimeout: 1_000 } as WebSocket.ClientOptions)
    let endedByServer = false
    this.once('upgrade', (response) => response.socket.once('end', () => (endedByServer = true)))
    this.once('close', (code) => socketsClosed.push({ code, endedByServer }))
  }
}

function call(host: string, room: string, extra: { token?: string; name?: string; watched?: boolean } = {}) {
  // Receive-only: these tests are about the room, not media.
  const webrtc = nodeWebRTC({ devices: 'none' })
  const c = createCall({
    host,
    room,
    name: extra.name ?? 'Tester',
    token: extra.token,
    webrtc: extra.watched ? { ...webrtc, WebSocket: WatchedWebSocket } : webrtc,
    log: silentLogger,
    media: { audio: false, video: false },
  })
  calls.push(c)
  return c
}

describe('roomMachine', () => {
  it('fails with room-full when the room already holds maxPeers, and its socket is closed at once', async () => {
    const first = call(small.host, 'full')
    await waitUntil(() => first.getSnapshot().matches({ online: 'joined' }), { what: 'the first to join' })
    const second = call(small.host, 'full', { watched: true })
    await waitUntil(() => second.getSnapshot().matches('failed'), { what: 'room-full' })
    expect(second.getSnapshot().context.failure).toEqual({ reason: 'room-full', message: expect.stringMatching(/full/) })
    expect(second.getSnapshot().hasTag('failed')).toBe(true)
    // The client closed its socket on the error, and the server ended the
    // connection: nothing waited for a close timeout.
    await waitUntil(() => socketsClosed.length > 0, { what: 'the refused socket to close' })
    expect(socketsClosed).toEqual([{ code: 4009, endedByServer: true }])
    // The first is untouched, and sees no one.
    expect(first.getSnapshot().matches({ online: 'joined' })).toBe(true)
    expect(first.getSnapshot().context.roster).toEqual({})
  })

  it('fails with unauthorized, carrying the server reason, without a valid token; a token gets in', async () => {
    const refused = call(guarded.host, 'secret-room')
    await waitUntil(() => refused.getSnapshot().matches('failed'), { what: 'unauthorized' })
    expect(refused.getSnapshot().context.failure).toEqual({ reason: 'unauthorized', message: 'a token is required to join this room' })

    const token = await mintToken(SECRET, { room: 'secret-room', name: 'Ada' }, 60)
    const admitted = call(guarded.host, 'secret-room', { token })
    await waitUntil(() => admitted.getSnapshot().matches({ online: 'joined' }), { what: 'joined with a token' })
  })

  it('fails with unreachable when no server answers, and retries on request', async () => {
    const port = await freePort()
    const lost = call(`127.0.0.1:${port}`, 'nowhere')
    await waitUntil(() => lost.getSnapshot().matches('failed'), { timeoutMs: 30_000, what: 'unreachable' })
    expect(lost.getSnapshot().context.failure?.reason).toBe('unreachable')
    expect(lost.getSnapshot().can({ type: 'ui.retry' })).toBe(true)
    lost.send({ type: 'ui.retry' })
    expect(lost.getSnapshot().hasTag('connecting')).toBe(true)
  })

  it('keeps presence per peer and leaves with bye', async () => {
    const ada = call(guarded.host, 'presence', { token: await mintToken(SECRET, { room: 'presence', name: 'Ada' }, 60) })
    const bob = call(guarded.host, 'presence', { token: await mintToken(SECRET, { room: 'presence', name: 'Bob' }, 60) })
    await waitUntil(() => Object.keys(ada.getSnapshot().context.roster).length === 1, { what: 'Ada to see Bob' })
    const bobId = bob.getSnapshot().context.selfId as string
    const { links, ...presence } = ada.getSnapshot().context.roster[bobId]
    expect(presence).toEqual({ name: 'Bob', mic: false, camera: false, screen: false })
    // Bob's pairs, once he shares them: his one with Ada only.
    expect(Object.keys(links ?? {}).filter((id) => id !== ada.getSnapshot().context.selfId)).toEqual([])
    bob.send({ type: 'ui.leave' })
    await waitUntil(() => bob.getSnapshot().status === 'done', { what: 'Bob to be done' })
    await waitUntil(() => Object.keys(ada.getSnapshot().context.roster).length === 0, { what: 'Ada to see Bob leave at once' })
  })
})
