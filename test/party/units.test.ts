import { createHmac } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { parseConfig } from '../../party/config'
import { fullBucket, take } from '../../lib/tokenBucket'
import { iceServersFor, turnCredential } from '../../party/turn'

describe('parseConfig', () => {
  it('applies the documented defaults with nothing configured', () => {
    expect(parseConfig({})).toEqual({
      maxPeers: 6,
      graceMs: 10_000,
      authSecret: undefined,
      iceUrls: [],
      turnSecret: undefined,
      turnTtlSeconds: 3600,
      rate: 50,
      burst: 200,
      logLevel: 'info',
    })
  })

  it('reads every variable, and numbers given in partykit.json vars', () => {
    const config = parseConfig({
      MESHCALL_MAX_PEERS: 4,
      MESHCALL_GRACE_MS: '2500',
      MESHCALL_AUTH_SECRET: '0123456789abcdef',
      MESHCALL_ICE_URLS: ' stun:stun.example.org:3478 , turns:turn.example.org:5349 ',
      MESHCALL_TURN_SECRET: 's',
      MESHCALL_TURN_TTL: '120',
      MESHCALL_RATE: '10',
      MESHCALL_BURST: '20',
      MESHCALL_LOG_LEVEL: 'debug',
      UNRELATED: 'ignored',
    })
    expect(config).toMatchObject({ maxPeers: 4, graceMs: 2500, rate: 10, burst: 20, logLevel: 'debug', turnTtlSeconds: 120 })
    expect(config.iceUrls).toEqual(['stun:stun.example.org:3478', 'turns:turn.example.org:5349'])
  })

  it('names every invalid variable in one readable error', () => {
    expect(() => parseConfig({ MESHCALL_MAX_PEERS: 'six', MESHCALL_ICE_URLS: 'http://nope', MESHCALL_AUTH_SECRET: 'short' })).toThrow(
      /MESHCALL_MAX_PEERS must be a whole number.*MESHCALL_AUTH_SECRET must be at least 16.*MESHCALL_ICE_URLS/,
    )
  })
})

describe('token bucket', () => {
  it('lets a burst through, refuses past it, and refills at the rate', () => {
    let bucket = fullBucket(3, 0)
    const results: boolean[] = []
    for (let i = 0; i < 4; i++) {
      const r = take(bucket, 2, 3, 0)
      results.push(r.allowed)
      bucket = r.bucket
    }
    expect(results).toEqual([true, true, true, false])
    expect(take(bucket, 2, 3, 499).allowed).toBe(false)
    expect(take(bucket, 2, 3, 500).allowed).toBe(true)
    // Never refills past the burst.
    expect(take(bucket, 2, 3, 60_000).bucket.tokens).toBe(2)
  })
})

describe('TURN credentials', () => {
  it('match coturn use-auth-secret: expiry:peerId and base64 HMAC-SHA1', async () => {
    const { username, credential } = await turnCredential('north', 'peer1', 600, 1_700_000_000_000)
    expect(username).toBe('1700000600:peer1')
    expect(credential).toBe(createHmac('sha1', 'north').update(username).digest('base64'))
  })

  it('give an empty list with nothing configured, and bare TURN URLs without a secret', async () => {
    expect(await iceServersFor('p', { iceUrls: [], turnSecret: undefined, turnTtlSeconds: 60 })).toEqual([])
    expect(await iceServersFor('p', { iceUrls: ['turn:t:3478'], turnSecret: undefined, turnTtlSeconds: 60 })).toEqual([
      { urls: ['turn:t:3478'] },
    ])
  })
})

describe('ICE defaults', () => {
  const read = (file: string) =>
    JSON.parse(readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8')) as { vars?: Record<string, string> }

  it('a deployment hands out a public STUN server, so people on different home networks can connect', () => {
    expect(parseConfig(read('partykit.deploy.json').vars ?? {}).iceUrls).toEqual(['stun:stun.cloudflare.com:3478'])
  })

  it('local partykit dev (npm start) has none: it could not reach one', () => {
    expect(parseConfig(read('partykit.json').vars ?? {}).iceUrls).toEqual([])
  })
})
