import { mkdirSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startAppServer, type AppServer } from '../support/appServer'
import { closeBrowsers, openParticipant, saveArtifactsOnFailure, type BrowserKind, type Participant } from '../support/participant'
import { waitUntil } from '../support/wait'

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

async function join(kind: BrowserKind, server: AppServer, room: string, name: string): Promise<Participant> {
  const participant = await openParticipant(kind, server.roomUrl(room), { name })
  await participant.fill('display-name', name)
  await participant.click('join')
  return participant
}

/** Every remote tile connected, and each tile's video really playing: frames decoded and time advancing. */
async function seesPlaying(p: Participant, remotes: number) {
  const tiles = () =>
    p.evaluate(() =>
      [...document.querySelectorAll<HTMLElement>('[data-testid="remote-tile"]')].map((tile) => {
        const video = tile.querySelector('video')
        return { state: tile.dataset.state, width: video?.videoWidth ?? 0, time: video?.currentTime ?? 0 }
      }),
    )
  const connected = await waitUntil(
    async () => {
      const now = await tiles()
      return now.length === remotes && now.every((t) => t.state === 'connected') ? now : null
    },
    { timeoutMs: 30_000, what: `${p}: ${remotes} connected remote tiles`, describe: () => p.logs().slice(-10) },
  )
  let last = connected
  await waitUntil(
    async () => {
      last = await tiles()
      return last.length === remotes && last.every((t, i) => t.width > 0 && t.time > connected[i].time + 0.3)
    },
    { timeoutMs: 20_000, what: `${p}: every remote video playing`, describe: () => last },
  )
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
      await p.waitFor(
        () => {
          const video = document.querySelector<HTMLVideoElement>('[data-testid="remote-screen"] video')
          return video !== null && video.videoWidth > 0 && video.currentTime > 0
        },
        30_000,
        'the shared screen playing',
      )
    }
    expect(await ada.attr('toggle-screen', 'aria-pressed')).toBe('true')
    await ada.click('toggle-screen')
    for (const p of others) await p.waitForTestId('remote-screen', { state: 'detached', timeoutMs: 20_000 })
  }, 90_000)

  it('a chat message reaches everyone', async () => {
    const [, bob, ...rest] = people
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

  it('a participant reloading the page comes back without leaving a ghost tile anywhere', async () => {
    const cy = people[2]
    const reloaded = Date.now()
    await cy.reload()
    await cy.fill('display-name', 'Cy')
    await cy.click('join')
    await seesPlaying(cy, 3)
    for (const p of people.filter((x) => x !== cy)) {
      // Exactly three remote tiles, all connected, one of them Cy's: no ghost.
      await seesPlaying(p, 3)
      await p.waitFor(
        () => [...document.querySelectorAll('[data-testid="remote-tile"]')].filter((t) => t.textContent?.includes('Cy')).length === 1,
        10_000,
        'one tile for Cy',
      )
    }
    // Well inside the 10 s grace period: nobody waited for a ghost to time out.
    expect(Date.now() - reloaded).toBeLessThan(9_000)
  }, 120_000)

  it('leave removes the tile everywhere within two seconds', async () => {
    const dee = people[3]
    const others = people.slice(0, 3)
    // Each page stamps the moment the tile goes, with a MutationObserver: a
    // background Firefox window throttles timers (and so any polling), not
    // the app's rendering.
    for (const p of others) {
      await p.evaluate(() => {
        const state = window as unknown as { tileGoneAt?: number }
        delete state.tileGoneAt
        const observer = new MutationObserver(() => {
          if (document.querySelectorAll('[data-testid="remote-tile"]').length === 2) {
            state.tileGoneAt = Date.now()
            observer.disconnect()
          }
        })
        observer.observe(document.body, { childList: true, subtree: true })
      })
    }
    const clicked = Date.now()
    await dee.click('leave')
    for (const p of others) {
      const goneAt = await waitUntil(() => p.evaluate(() => (window as unknown as { tileGoneAt?: number }).tileGoneAt ?? null), {
        timeoutMs: 15_000,
        what: `${p}: the tile to go`,
      })
      expect(goneAt - clicked).toBeLessThan(2_000)
    }
  }, 30_000)
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
