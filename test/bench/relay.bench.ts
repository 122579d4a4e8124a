import { afterAll, beforeAll, bench, describe } from 'vitest'
import type { SignalData } from '../../protocol/messages'
import { startRoomServer, type RoomServer } from '../support/roomServer'
import { TestClient } from '../support/wsClient'

// Signal relay through a real `partykit dev`: the time from one peer's send
// to the target's receipt, for a trickled candidate and for a full SDP offer.
let server: RoomServer
let a: TestClient
let b: TestClient
let bId = ''

const candidate: SignalData = {
  kind: 'candidate',
  candidate: {
    candidate: 'candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host',
    sdpMid: '0',
    sdpMLineIndex: 0,
    usernameFragment: 'abcd',
  },
  session: 1,
}
// About the size of a two-track offer with a data channel.
const offer: SignalData = { kind: 'description', description: { type: 'offer', sdp: 'a=x\r\n'.repeat(1200) }, session: 1 }

beforeAll(async () => {
  server = await startRoomServer({ MESHCALL_RATE: '10000', MESHCALL_BURST: '100000' })
  const room = `bench-${Date.now()}`
  a = (await TestClient.join(server.wsUrl(room))).client
  const joinedB = await TestClient.join(server.wsUrl(room))
  b = joinedB.client
  bId = joinedB.welcome.id
})

afterAll(async () => {
  await a?.close()
  await b?.close()
  await server?.stop()
})

async function relay(data: SignalData) {
  a.send({ type: 'signal', to: bId, data })
  await b.next('signal')
  b.clear()
}

describe('signal relay latency (partykit dev, loopback)', () => {
  bench('candidate', () => relay(candidate), { time: 2_000 })
  bench('6 KB offer', () => relay(offer), { time: 2_000 })
})
