import { describe, expect, it } from 'vitest'
import { isValidRoomName, MAX_FRAME_BYTES, parseClientMessage, parseServerMessage } from '../../protocol/messages'

describe('parseClientMessage', () => {
  it('strips a client-supplied from', () => {
    const parsed = parseClientMessage(
      JSON.stringify({ type: 'presence', from: 'someone-else', state: { name: ' Ada ', mic: true, camera: false, screen: false } }),
    )
    expect(parsed).toEqual({ ok: true, message: { type: 'presence', state: { name: 'Ada', mic: true, camera: false, screen: false } } })
  })

  it('says where a message is wrong', () => {
    const parsed = parseClientMessage(JSON.stringify({ type: 'signal', to: 'p1', data: { kind: 'candidate', session: -1 } }))
    expect(parsed.ok).toBe(false)
    if (!parsed.ok) {
      expect(parsed.code).toBe('bad-message')
      expect(parsed.reason).toMatch(/^data\./)
    }
  })

  it('refuses binary frames and measures size in UTF-8 bytes', () => {
    expect(parseClientMessage(new Uint8Array(4))).toMatchObject({ ok: false, code: 'bad-message' })
    expect(parseClientMessage(new Uint8Array(MAX_FRAME_BYTES + 1))).toMatchObject({ ok: false, code: 'too-large' })
    const emoji = JSON.stringify({ type: 'bye', pad: '😀'.repeat(MAX_FRAME_BYTES / 4) })
    expect(parseClientMessage(emoji)).toMatchObject({ ok: false, code: 'too-large' })
  })
})

describe('parseServerMessage', () => {
  it('accepts a welcome and refuses an unknown version', () => {
    const welcome = {
      type: 'welcome',
      v: 1,
      id: 'a',
      secret: 's',
      resumed: false,
      peers: [],
      iceServers: [],
      maxPeers: 6,
      limits: { rate: 50, burst: 200, maxFrameBytes: 65536 },
    }
    expect(parseServerMessage(JSON.stringify(welcome)).ok).toBe(true)
    expect(parseServerMessage(JSON.stringify({ ...welcome, v: 2 })).ok).toBe(false)
  })
})

describe('room names', () => {
  it('are 1 to 64 characters of A-Z a-z 0-9 _ -', () => {
    expect(isValidRoomName('Daily_standup-2')).toBe(true)
    expect(isValidRoomName('x'.repeat(64))).toBe(true)
    for (const bad of ['', 'x'.repeat(65), 'a b', 'a/b', 'é']) expect(isValidRoomName(bad)).toBe(false)
  })
})
