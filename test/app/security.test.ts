import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mintToken } from '../../party/auth'
import { startAppServer, type AppServer } from '../support/appServer'
import { closeBrowsers, openParticipant, saveArtifactsOnFailure, type Participant } from '../support/participant'
import { waitUntil } from '../support/wait'
import { TestClient } from '../support/wsClient'

// The built app's security defaults, in Chromium, against the deployment's
// room server with auth and TURN credentials on: its Content-Security-Policy,
// join tokens out of the address bar and out of every Referer, and server
// logs free of secrets.
saveArtifactsOnFailure()

const AUTH_SECRET = 'security-test-auth-secret'
const TURN_SECRET = 'security-test-turn-secret'
let app: AppServer

beforeAll(async () => {
  app = await startAppServer({
    MESHCALL_AUTH_SECRET: AUTH_SECRET,
    MESHCALL_TURN_SECRET: TURN_SECRET,
    // Credentials are minted for it; nothing here needs it to answer.
    MESHCALL_ICE_URLS: 'turn:127.0.0.1:9?transport=udp',
  })
}, 120_000)
afterAll(async () => {
  await closeBrowsers()
  await app?.stop()
})

type Watched = { participant: Participant; violations: () => Promise<string[]>; referers: string[] }

/**
 * A Chromium participant whose page records every CSP violation (an init
 * script, which the policy does not govern) and every request's Referer.
 */
async function watchedParticipant(name: string): Promise<Watched> {
  const participant = await openParticipant('chromium', undefined, { name })
  const raw = participant.raw
  if (raw.kind !== 'chromium') throw new Error('a Chromium page was expected')
  await raw.page.addInitScript(() => {
    const seen: string[] = []
    Object.assign(window, { __cspViolations: seen })
    document.addEventListener('securitypolicyviolation', (e) => seen.push(`${e.effectiveDirective} ${e.blockedURI}`))
  })
  const referers: string[] = []
  raw.page.on('request', (request) => {
    const referer = request.headers()['referer']
    if (referer) referers.push(`${request.url()} <- ${referer}`)
  })
  const violations = () => participant.evaluate(() => (window as unknown as { __cspViolations: string[] }).__cspViolations)
  return { participant, violations, referers }
}

async function joinWithToken(watched: Watched, room: string, name: string, token: string) {
  await watched.participant.goto(app.roomUrl(room, { quality: 'low', token }))
  await watched.participant.fill('display-name', name)
  await watched.participant.click('join')
}

/** The other participant's tile, connected. */
const connectedTile = (p: Participant) =>
  p.waitFor(
    () => document.querySelectorAll('[data-testid="remote-tile"][data-state="connected"]').length === 1,
    30_000,
    'a connected remote tile',
  )

describe('security defaults of the built app', () => {
  const room = `secure-${Date.now()}`
  const secrets: string[] = []
  let ada: Watched
  let bob: Watched

  it('runs a call and its inspector under its Content-Security-Policy with no violation, and the policy blocks inline script', async () => {
    const [adaToken, bobToken] = await Promise.all([
      mintToken(AUTH_SECRET, { room, name: 'Ada' }, 600),
      mintToken(AUTH_SECRET, { room, name: 'Bob' }, 600),
    ])
    secrets.push(adaToken, bobToken)
    ada = await watchedParticipant('Ada')
    bob = await watchedParticipant('Bob')
    await joinWithToken(ada, room, 'Ada', adaToken)
    await joinWithToken(bob, room, 'Bob', bobToken)
    await connectedTile(ada.participant)
    await connectedTile(bob.participant)

    // The inspector: a lazily loaded chunk, its graph layout, its charts.
    await ada.participant.click('inspector-toggle')
    await ada.participant.waitForTestId('inspector', { timeoutMs: 30_000 })
    await ada.participant.waitFor(
      () => document.querySelector('[data-testid="statechart"] [data-state-id]') !== null,
      30_000,
      'a statechart',
    )

    const policy = await ada.participant.evaluate(
      () => document.querySelector('meta[http-equiv="Content-Security-Policy"]')?.getAttribute('content') ?? '',
    )
    expect(policy).toContain("script-src 'self'")
    expect(await ada.violations()).toEqual([])
    expect(await bob.violations()).toEqual([])

    // The policy is in force: an inline script added to the page does not run.
    await ada.participant.evaluate(() => {
      const script = document.createElement('script')
      script.textContent = 'window.__inlineRan = true'
      document.head.append(script)
    })
    await waitUntil(async () => (await ada.violations()).length > 0, { what: 'the inline script to be refused' })
    expect(await ada.violations()).toEqual(['script-src-elem inline'])
    expect(await ada.participant.evaluate(() => 'inlineRan' in window || '__inlineRan' in window)).toBe(false)
  }, 120_000)

  it('takes the join token out of the address bar and the history at once, sends no Referer, and coming back still gets in', async () => {
    for (const watched of [ada, bob]) {
      const href = await watched.participant.evaluate(() => location.href)
      expect(href).not.toMatch(/token=/)
      expect(href).toMatch(/quality=low/)
      expect(watched.referers).toEqual([])
    }
    // replaceState: the entry before the call is the blank page it was
    // opened from, and the call's own entry has no token either.
    const raw = bob.participant.raw
    if (raw.kind !== 'chromium') throw new Error('a Chromium page was expected')
    await raw.page.goBack()
    expect(raw.page.url()).toBe('about:blank')
    await raw.page.goForward()
    expect(raw.page.url()).not.toMatch(/token=/)
    // The token is kept for the tab: the page loaded again (and resuming
    // the same identity) is admitted by the room server.
    await bob.participant.click('join')
    await connectedTile(bob.participant)
    await connectedTile(ada.participant)
    expect(bob.referers).toEqual([])
  }, 90_000)

  it('keeps SDP, tokens, resume secrets and TURN credentials out of the room server logs', async () => {
    // A raw client joins too: its welcome carries a resume secret and TURN credentials.
    const token = await mintToken(AUTH_SECRET, { room, name: 'Raw' }, 600)
    secrets.push(token)
    const { client, welcome } = await TestClient.join(app.wsUrl(room, { token }))
    secrets.push(welcome.secret, TURN_SECRET, AUTH_SECRET)
    for (const server of welcome.iceServers) if (server.credential) secrets.push(server.credential)
    expect(welcome.iceServers.some((s) => s.credential)).toBe(true)
    // Malformed frames whose refusal is logged, carrying secrets and SDP where a careless log would echo them.
    client.sendRaw(JSON.stringify({ type: `v=0 ${welcome.secret}` }))
    client.send({
      type: 'signal',
      to: welcome.peers[0]?.id ?? 'x',
      data: { kind: `offer ${token}`, sdp: 'v=0\r\na=fingerprint:sha-256 AB' },
    })
    await client.next('error')
    await client.next('error')
    // A resume with a wrong secret is logged as refused; one with the right secret resumes.
    const thief = await TestClient.join(app.wsUrl(room, { token, resume: `${welcome.id}.${welcome.secret}x` }))
    await thief.client.close()
    client.terminate()
    const back = await TestClient.join(app.wsUrl(room, { token, resume: `${welcome.id}.${welcome.secret}` }))
    expect(back.welcome.resumed).toBe(true)
    await back.client.close()
    for (const watched of [ada, bob]) {
      const resume = await watched.participant.evaluate(() => {
        const key = Object.keys(sessionStorage).find((k) => k.startsWith('meshcall.resume.'))
        return key ? (JSON.parse(sessionStorage.getItem(key) ?? '{}') as { secret?: string }).secret : undefined
      })
      expect(resume).toBeTruthy()
      secrets.push(resume as string)
    }
    await bob.participant.click('leave')
    await waitUntil(() => app.records().some((r) => r.msg === 'peer left' && r.reason === 'bye'), { what: "Bob's bye in the log" })

    const records = app.records()
    // The run is in the log: joins, a resume, refusals, a leave.
    for (const msg of ['peer joined', 'peer resumed', 'frame refused', 'resume refused: wrong secret', 'peer left']) {
      expect(records.map((r) => r.msg)).toContain(msg)
    }
    const output = app.output()
    for (const secret of secrets) expect(output.includes(secret), `a secret of ${secret.length} characters in the log`).toBe(false)
    for (const sdp of [/v=0/, /a=fingerprint/, /ice-ufrag/, /ice-pwd/, /a=candidate/]) expect(output).not.toMatch(sdp)
  }, 90_000)
})
