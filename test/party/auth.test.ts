import { SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mintToken } from '../../party/auth'
import { startRoomServer, type RoomServer } from '../support/roomServer'
import { TestClient, UpgradeRefused } from '../support/wsClient'

const SECRET = 'a-join-token-secret-for-tests'
let server: RoomServer
const open: TestClient[] = []

beforeAll(async () => {
  server = await startRoomServer({ MESHCALL_AUTH_SECRET: SECRET })
})

afterAll(async () => {
  await Promise.all(open.map((c) => c.close().catch(() => undefined)))
  await server?.stop()
})

async function refusal(url: string): Promise<UpgradeRefused> {
  const error = await TestClient.connect(url).then(
    (client) => {
      open.push(client)
      throw new Error('the upgrade was accepted')
    },
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(UpgradeRefused)
  return error as UpgradeRefused
}

describe('join tokens', () => {
  it('refuses a connection without a token with 401 before the upgrade', async () => {
    const refused = await refusal(server.wsUrl('standup'))
    expect(refused.status).toBe(401)
    expect(refused.body).toMatch(/token is required/)
    const http = await fetch(server.httpUrl('standup'))
    expect(http.status).toBe(401)
  })

  it('refuses an expired token', async () => {
    const expired = await new SignJWT({ room: 'standup', name: 'Ada' })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
      .sign(new TextEncoder().encode(SECRET))
    const refused = await refusal(server.wsUrl('standup', { token: expired }))
    expect(refused.status).toBe(401)
    expect(refused.body).toMatch(/expired/)
  })

  it('refuses a token for another room', async () => {
    const token = await mintToken(SECRET, { room: 'other-room', name: 'Ada' }, 60)
    const refused = await refusal(server.wsUrl('standup', { token }))
    expect(refused.status).toBe(401)
    expect(refused.body).toMatch(/another room/)
  })

  it('refuses a token signed with another secret, or with no expiry', async () => {
    const forged = await mintToken('not-the-servers-secret-at-all', { room: 'standup', name: 'Eve' }, 60)
    expect((await refusal(server.wsUrl('standup', { token: forged }))).status).toBe(401)
    const eternal = await new SignJWT({ room: 'standup', name: 'Eve' })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode(SECRET))
    expect((await refusal(server.wsUrl('standup', { token: eternal }))).status).toBe(401)
    expect((await refusal(server.wsUrl('standup', { token: 'garbage' }))).status).toBe(401)
  })

  it('admits a valid token, and the token fixes the display name', async () => {
    const room = `auth-${Date.now()}`
    const ada = await TestClient.join(server.wsUrl(room, { token: await mintToken(SECRET, { room, name: 'Ada' }, 60) }))
    open.push(ada.client)
    const token = await mintToken(SECRET, { room, name: 'Bob' }, 60)
    // A name header or query from the client cannot override the token.
    const bob = await TestClient.join(server.wsUrl(room, { token, name: 'Mallory' }))
    open.push(bob.client)
    expect(bob.welcome.peers).toEqual([{ id: ada.welcome.id, presence: expect.objectContaining({ name: 'Ada' }) }])
    expect((await ada.client.next('peer-joined')).peer.presence.name).toBe('Bob')
    bob.client.send({ type: 'presence', state: { name: 'Mallory', mic: true, camera: false, screen: false } })
    const presence = await ada.client.next('presence')
    expect(presence.state).toEqual({ name: 'Bob', mic: true, camera: false, screen: false })
  })
})
