import { mkdirSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startAppServer, type AppServer } from '../support/appServer'
import { closeBrowsers, openParticipant, saveArtifactsOnFailure, type BrowserKind, type Participant } from '../support/participant'
import { seesPlaying as playing, seesScreenPlaying } from '../support/callPage'

// The built app, served with the real room server (partykit dev with the
// deployment config), driven through its UI in Debian's Chromium and Firefox.
saveArtifactsOnFailure()

let app: AppServer
let small: AppServer

beforeAll(async () => {
  ;[app, small] = await Promise.all([startAppServer(), startAppServer({ MESHCALL_MAX_PEERS: '2' })])
}, 120_000)

afterAll(async () => {
  await closeBrowsers()
  await Promise.all([app?.stop(), small?.stop()])
})

/**
 * Joins through the lobby with the low-bandwidth setting (`?quality=low`):
 * 320×180 at 15 fps keeps four software-decoding browsers within two cores,
 * and nothing here depends on the picture's size.
 */
async function join(kind: BrowserKind, server: AppServer, room: string, name: string): Promise<Participant> {
  const participant = await openParticipant(kind, server.roomUrl(room, { quality: 'low' }), { name })
  await participant.fill('display-name', name)
  await participant.click('join')
  return participant
}

/** Every remote tile connected, and each tile's video really playing. */
function seesPlaying(p: Participant, remotes: number) {
  return playing((fn) => p.evaluate(fn), remotes, { who: String(p), logs: () => p.logs() })
}

describe('a four-person call in Chromium and Firefox', () => {
  const room = `call-${Date.now()}`
  let people: Participant[] = []

  it('four participants, three in Chromium and one in Firefox, see three connected, playing remote videos each', async () => {
    people = [
      await join('chromium', app, room, 'Ada'),
      await join('chromium', app, room, 'Bob'),
      await join('firefox', app, room, 'Cy'),
      await join('chromium', app, room, 'Dee'),
    ]
    for (const p of people) await seesPlaying(p, 3)
    // The low-bandwidth setting reached every camera.
    for (const p of people) {
      const size = await p.evaluate(() => {
        const video = document.querySelector<HTMLVideoElement>('[data-testid="local-tile"] video')
        return { width: video?.videoWidth ?? 0, height: video?.videoHeight ?? 0 }
      })
      expect(size.width, `${p}'s camera`).toBeGreaterThan(0)
      expect(size.width, `${p}'s camera`).toBeLessThanOrEqual(320)
    }
    // On one loopback every pair is direct, and each tile says so.
    for (const p of people) {
      await p.waitFor(
        () => {
          const routes = [...document.querySelectorAll<HTMLElement>('[data-testid="tile-route"]')].map((r) => r.dataset.route)
          return routes.length === 3 && routes.every((r) => r === 'direct')
        },
        20_000,
        'three direct routes',
      )
    }
    if (process.env.UPDATE_SCREENSHOTS) {
      mkdirSync('docs', { recursive: true })
      await people[0].screenshot('docs/call.png')
    }
  }, 180_000)

  it('muting on one shows the muted marker on the others', async () => {
    const [ada, ...others] = people
    expect(await ada.attr('toggle-mic', 'aria-pressed')).toBe('true')
    await ada.click('toggle-mic')
    expect(await ada.attr('toggle-mic', 'aria-pressed')).toBe('false')
    for (const p of others) await p.waitForTestId('peer-muted', { timeoutMs: 10_000 })
    // Keyboard shortcut: m turns it back on, and the marker goes.
    await ada.press('m')
    for (const p of others) await p.waitForTestId('peer-muted', { state: 'detached', timeoutMs: 10_000 })
  }, 60_000)

  it('a screen share on one appears, playing, on the others', async () => {
    const [ada, ...others] = people
    await ada.click('toggle-screen')
    for (const p of others) {
      await seesScreenPlaying((fn) => p.evaluate(fn), { who: String(p) })
    }
    expect(await ada.attr('toggle-screen', 'aria-pressed')).toBe('true')
    await ada.click('toggle-screen')
    for (const p of others) await p.waitForTestId('remote-screen', { state: 'detached', timeoutMs: 20_000 })
  }, 90_000)

  it('a chat message reaches everyone', async () => {
    const [, bob, ...rest] = people
    // The chat starts closed.
    await bob.click('toggle-chat')
    await bob.fill('chat-input', 'hello from Bob')
    await bob.press('Enter')
    for (const p of [people[0], ...rest]) {
      await p.waitFor(
        () => [...document.querySelectorAll('[data-testid="chat-message"]')].some((m) => m.textContent?.includes('hello from Bob')),
        10_000,
        'the chat message',
      )
    }
  }, 30_000)

  it("each pair shows one safety code on both sides, across browsers, and each pair's differs", async () => {
    /** Opens every tile's safety code and reads them, by the name on the tile. */
    const codes = async (p: Participant) => {
      await p.evaluate(() => {
        for (const button of document.querySelectorAll<HTMLButtonElement>('[data-testid="safety-toggle"][aria-expanded="false"]'))
          button.click()
      })
      await p.waitFor(
        () =>
          [...document.querySelectorAll('[data-testid="safety-code"] code')].filter((c) => /^\d{5}( \d{5}){3}$/.test(c.textContent ?? ''))
            .length === 3,
        10_000,
        'three safety codes',
      )
      return p.evaluate(() =>
        Object.fromEntries(
          [...document.querySelectorAll<HTMLElement>('[data-testid="remote-tile"]')].map((tile) => [
            tile.querySelector('.name')?.textContent ?? '',
            tile.querySelector('[data-testid="safety-code"] code')?.textContent ?? '',
          ]),
        ),
      )
    }
    const [ada, bob, cy] = people
    const [adaSees, bobSees, cySees] = [await codes(ada), await codes(bob), await codes(cy)]
    expect(cySees.Ada, 'Firefox and Chromium agree').toBe(adaSees.Cy)
    expect(bobSees.Ada).toBe(adaSees.Bob)
    expect(cySees.Bob).toBe(bobSees.Cy)
    expect(new Set(Object.values(adaSees)).size, "Ada's three pairs have three codes").toBe(3)
  }, 40_000)

  it('a participant reloading the page comes back without leaving a ghost tile anywhere', async () => {
    const cy = people[2]
    const cyId = await peerIdOf(people[0], 'Cy')
    await cy.reload()
    await cy.fill('display-name', 'Cy')
    await cy.click('join')
    await seesPlaying(cy, 3)
    for (const p of people.filter((x) => x !== cy)) {
      // Exactly three remote tiles, all connected, one of them Cy's: no ghost.
      await seesPlaying(p, 3)
      await p.waitFor(
        () => [...document.querySelectorAll('[data-testid="remote-tile"]')].filter((t) => t.textContent?.includes('Cy')).length === 1,
        20_000,
        'one tile for Cy',
      )
    }
    // The old identity either said bye on pagehide or was resumed: the server
    // never had to time out a ghost at the end of its grace period.
    const cyLog = serverLog(app, room).filter((r) => r.peerId === cyId)
    expect(cyLog.filter((r) => r.msg === 'peer left' && r.reason === 'timeout')).toEqual([])
    expect(cyLog.some((r) => r.msg === 'peer resumed' || (r.msg === 'peer left' && r.reason === 'bye'))).toBe(true)
  }, 120_000)

  it('leave removes the tile everywhere at once: by the bye, not the grace period', async () => {
    const dee = people[3]
    const others = people.slice(0, 3)
    const deeId = await peerIdOf(others[0], 'Dee')
    await dee.click('leave')
    await dee.waitForTestId('left', { state: 'attached' })
    for (const p of others) {
      await p.waitFor(() => document.querySelectorAll('[data-testid="remote-tile"]').length === 2, 20_000, 'the tile to go')
    }
    const left = serverLog(app, room).filter((r) => r.peerId === deeId && r.msg === 'peer left')
    expect(left.map((r) => r.reason)).toEqual(['bye'])
  }, 60_000)
})

/** The room server's log lines about `room`. */
function serverLog(server: AppServer, room: string) {
  return server.records().filter((record) => record.room === room)
}

/** The peer id of `name`'s tile, as `viewer` sees it. */
async function peerIdOf(viewer: Participant, name: string): Promise<string> {
  const id = await viewer.evaluate(
    (who) =>
      [...document.querySelectorAll<HTMLElement>('[data-testid="remote-tile"]')].find(
        (tile) => tile.querySelector('.name')?.textContent === who,
      )?.dataset.peerId ?? null,
    name,
  )
  if (!id) throw new Error(`${viewer} has no tile for ${name}`)
  return id
}

describe("hiding one's IP address in a call with no TURN server", () => {
  it('is remembered from the lobby, and both tiles say in plain words why the pair cannot connect', async () => {
    const room = `relay-${Date.now()}`
    const ada = await openParticipant('chromium', app.roomUrl(room, { quality: 'low' }), { name: 'Ada' })
    await ada.click('relay-only')
    await ada.reload()
    expect(await ada.evaluate(() => document.querySelector<HTMLInputElement>('[data-testid="relay-only"]')?.checked)).toBe(true)
    await ada.fill('display-name', 'Ada')
    await ada.click('join')
    const bob = await join('chromium', app, room, 'Bob')
    // Ada may only use relay candidates, and there is no relay: nothing connects.
    for (const p of [ada, bob]) {
      await p.waitFor(
        () => document.querySelector<HTMLElement>('[data-testid="tile-problem"]')?.dataset.reason === 'no-relay',
        45_000,
        'the no-relay explanation on the tile',
      )
      const text = await p.evaluate(() => document.querySelector('[data-testid="tile-problem"]')?.textContent ?? '')
      expect(text).toMatch(/no relay \(TURN\) server/)
    }
    await ada.close()
    await bob.close()
  }, 90_000)
})

describe('a full room', () => {
  it('shows room-full to a third participant when maxPeers is 2', async () => {
    const room = `full-${Date.now()}`
    const first = await join('chromium', small, room, 'One')
    const second = await join('firefox', small, room, 'Two')
    await first.waitForTestId('remote-tile', { timeoutMs: 20_000 })
    await second.waitForTestId('remote-tile', { timeoutMs: 20_000 })
    const third = await join('chromium', small, room, 'Three')
    await third.waitForTestId('call-error', { timeoutMs: 20_000 })
    expect(await third.attr('call-error', 'data-code')).toBe('room-full')
  }, 90_000)
})
