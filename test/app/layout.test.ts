import { mkdirSync } from 'node:fs'
import { afterAll, describe, expect, it } from 'vitest'
import { appForFile } from '../support/appServer'
import { seesPlaying as playing, seesScreenPlaying } from '../support/callPage'
import { openParticipant, saveArtifactsOnFailure, type BrowserKind, type OpenOptions, type Participant } from '../support/participant'
import { waitUntil } from '../support/wait'

// The stage, the controls and the chat of the built app, measured on the
// page as people see it: in Chromium and Firefox at 1280×720, and in
// Chromium's mobile emulation as a phone.
saveArtifactsOnFailure()
const app = appForFile()

type Rect = { x: number; y: number; width: number; height: number }
type Geometry = {
  layout: string | null
  stage: Rect
  local: Rect | null
  remotes: Rect[]
  screens: Rect[]
  page: { scrollWidth: number; width: number }
}

/** Where everything is on the page now. */
function geometry(p: Participant): Promise<Geometry> {
  return p.evaluate(() => {
    const rect = (el: Element): Rect => {
      const b = el.getBoundingClientRect()
      return { x: b.x, y: b.y, width: b.width, height: b.height }
    }
    const all = (selector: string) => [...document.querySelectorAll(selector)].map(rect)
    const stage = document.querySelector<HTMLElement>('[data-testid="stage"]')
    const local = document.querySelector('[data-testid="local-tile"]')
    return {
      layout: stage?.dataset.layout ?? null,
      stage: stage ? rect(stage) : { x: 0, y: 0, width: 0, height: 0 },
      local: local ? rect(local) : null,
      remotes: all('[data-testid="remote-tile"]'),
      screens: all('[data-testid="remote-screen"]'),
      page: { scrollWidth: document.documentElement.scrollWidth, width: document.documentElement.clientWidth },
    }
  })
}

const area = (r: Rect) => r.width * r.height
const within = (r: Rect, outer: Rect) =>
  r.x >= outer.x - 1 && r.y >= outer.y - 1 && r.x + r.width <= outer.x + outer.width + 1 && r.y + r.height <= outer.y + outer.height + 1
const overlap = (a: Rect, b: Rect) =>
  a.x + 1 < b.x + b.width && b.x + 1 < a.x + a.width && a.y + 1 < b.y + b.height && b.y + 1 < a.y + a.height

/**
 * Waits until `problem(geometry)` finds nothing wrong (the slots animate for
 * a quarter of a second), and fails with the last problem found.
 */
async function settles(p: Participant, what: string, problem: (g: Geometry) => string | null): Promise<Geometry> {
  let last: { g: Geometry; problem: string | null } | null = null
  return waitUntil(
    async () => {
      const g = await geometry(p)
      last = { g, problem: problem(g) }
      return last.problem === null ? g : null
    },
    { what: `${p}: ${what}`, describe: () => last },
  )
}

/** The 1:1 layout: the remote fills the stage, your own view is a small inset in `corner`. */
const oneToOne =
  (corner: string) =>
  (g: Geometry): string | null => {
    if (g.layout !== 'one-to-one' || !g.local || g.remotes.length !== 1) return `layout ${g.layout}, ${g.remotes.length} remote tiles`
    const [remote] = g.remotes
    if (area(remote) < 0.9 * area(g.stage)) return `the remote covers ${Math.round((100 * area(remote)) / area(g.stage))} % of the stage`
    if (area(g.local) > 0.08 * area(g.stage)) return `the inset covers ${Math.round((100 * area(g.local)) / area(g.stage))} % of the stage`
    if (!within(g.local, g.stage)) return 'the inset is off the stage'
    const right = g.local.x + g.local.width / 2 > g.stage.x + g.stage.width / 2
    const bottom = g.local.y + g.local.height / 2 > g.stage.y + g.stage.height / 2
    const at = `${bottom ? 'bottom' : 'top'}-${right ? 'right' : 'left'}`
    return at === corner ? null : `the inset is at ${at}`
  }

/** An even grid of `count` tiles: the same size, none overlapping, all on the stage, filling a fair share of it. */
const evenGrid =
  (count: number) =>
  (g: Geometry): string | null => {
    const tiles = [...(g.local ? [g.local] : []), ...g.remotes]
    if (g.layout !== 'grid' || tiles.length !== count) return `layout ${g.layout} with ${tiles.length} tiles`
    if (tiles.some((t) => Math.abs(t.width - tiles[0].width) > 1 || Math.abs(t.height - tiles[0].height) > 1))
      return 'tiles of different sizes'
    if (tiles.some((t) => !within(t, g.stage))) return 'a tile off the stage'
    if (tiles.some((a, i) => tiles.some((b, j) => i < j && overlap(a, b)))) return 'overlapping tiles'
    const used = tiles.reduce((sum, t) => sum + area(t), 0) / area(g.stage)
    return used >= 0.45 ? null : `the tiles use ${Math.round(used * 100)} % of the stage`
  }

/** A spotlight: `big` takes most of the stage, every other tile is small and to its right. */
const spotlight =
  (big: (g: Geometry) => Rect | undefined, small: (g: Geometry) => Rect[]) =>
  (g: Geometry): string | null => {
    const main = big(g)
    if (g.layout !== 'spotlight' || !main) return `layout ${g.layout}`
    if (area(main) < 0.5 * area(g.stage)) return `the spotlight covers ${Math.round((100 * area(main)) / area(g.stage))} % of the stage`
    for (const tile of small(g)) {
      if (area(tile) > area(main) / 4) return 'a strip tile as large as a quarter of the spotlight'
      if (tile.x < main.x + main.width) return 'a strip tile not to the right of the spotlight'
    }
    return null
  }

/** A spotlight on the remote tile at `index`, the others in the strip. */
const spotlightOn = (index: number) =>
  spotlight(
    (g) => g.remotes[index],
    (g) => [...(g.local ? [g.local] : []), ...g.remotes.filter((_, i) => i !== index)],
  )

/** Where the remote tile of the person called `name` is, in page order. */
const remoteIndex = (p: Participant, name: string) =>
  p.evaluate(
    (n: string) =>
      [...document.querySelectorAll('[data-testid="remote-tile"]')].findIndex((t) => t.querySelector('.name')?.textContent === n),
    name,
  )

/** Frames each remote tile's video has presented so far, by name. */
const frames = (p: Participant) =>
  p.evaluate(() =>
    Object.fromEntries(
      [...document.querySelectorAll('[data-testid="remote-tile"]')].map((tile) => [
        tile.querySelector('.name')?.textContent ?? '',
        tile.querySelector('video')?.getVideoPlaybackQuality().totalVideoFrames ?? 0,
      ]),
    ),
  )
/**
 * Waits until the tiles named in `still` on `p`'s page present no frame
 * for as long as `witness`'s page presents 25 new ones from `flowing`:
 * the pause has taken, and holds.
 */
const stillWhile = (p: Participant, still: string[], witness: Participant, flowing: string) =>
  waitUntil(
    async () => {
      const before = await frames(p)
      const seen = await frames(witness)
      await waitUntil(async () => (await frames(witness))[flowing] > seen[flowing] + 25, { what: `${witness}: frames from ${flowing}` })
      const after = await frames(p)
      return still.every((name) => after[name] === before[name])
    },
    { timeoutMs: 30_000, what: `${p}: no frames from ${still.join(', ')}` },
  )
/** Waits until each named tile presents new frames. */
const flows = async (p: Participant, names: string[]) => {
  const start = await frames(p)
  await waitUntil(
    async () => {
      const now = await frames(p)
      return names.every((n) => now[n] > start[n] + 5)
    },
    { what: `${p}: frames from ${names.join(', ')}` },
  )
}

async function join(kind: BrowserKind, room: string, name: string, options: OpenOptions = {}): Promise<Participant> {
  const p = await openParticipant(kind, app().roomUrl(room, { quality: 'low' }), { name, ...options })
  await p.fill('display-name', name)
  await p.click('join')
  return p
}

/** With UPDATE_SCREENSHOTS set, saves the page as README's `docs/<name>.png`. */
async function screenshot(p: Participant, name: string): Promise<void> {
  if (!process.env.UPDATE_SCREENSHOTS) return
  await p.waitFor(() => document.getAnimations().length === 0, 5_000, 'the layout at rest')
  mkdirSync('docs', { recursive: true })
  await p.screenshot(`docs/${name}.png`)
}

const seesPlaying = (p: Participant, remotes: number) => playing((fn) => p.evaluate(fn), remotes, { who: String(p), logs: () => p.logs() })

describe('the stage, in Chromium and Firefox', () => {
  const room = `layout-${Date.now()}`
  let ada: Participant
  let bob: Participant
  let cy: Participant
  let dee: Participant
  // Four pages decoding video would slow every test after these.
  afterAll(() => Promise.all([ada, bob, cy, dee].map((p) => p?.close())))

  it('1:1: the remote fills the stage and your own view is an inset in a corner, which moves and is remembered', async () => {
    ada = await join('chromium', room, 'Ada')
    cy = await join('firefox', room, 'Cy')
    for (const p of [ada, cy]) {
      await seesPlaying(p, 1)
      await settles(p, 'the 1:1 layout, inset bottom right', oneToOne('bottom-right'))
    }
    await ada.click('move-inset')
    await settles(ada, 'the inset moved to the bottom left', oneToOne('bottom-left'))
    expect(await ada.evaluate(() => localStorage.getItem('meshcall.inset'))).toBe('bottom-left')
    await screenshot(ada, 'one-to-one')
    // Cy's view did not move.
    await settles(cy, 'the inset still bottom right', oneToOne('bottom-right'))
  }, 120_000)

  it('3 people: an even grid that fills the stage on every page', async () => {
    bob = await join('chromium', room, 'Bob')
    for (const p of [ada, bob, cy]) {
      await seesPlaying(p, 2)
      await settles(p, 'an even grid of 3', evenGrid(3))
    }
  }, 120_000)

  it('pin: a pinned tile takes the stage with the others in a strip, which collapses (their video pauses), and unpinning goes back to the grid', async () => {
    const bobSlot = await remoteIndex(ada, 'Bob')
    expect(bobSlot).toBeGreaterThanOrEqual(0)
    // The pin buttons, in slot order: yours first, then each remote.
    await ada.evaluate((index: number) => {
      const slots = [...document.querySelectorAll('[data-testid="remote-tile"]')].map((t) => t.closest('.slot'))
      slots[index]?.querySelector<HTMLButtonElement>('[data-testid="pin-toggle"]')?.click()
    }, bobSlot)
    await settles(ada, "Bob's tile in the spotlight", spotlightOn(bobSlot))
    // Only Ada pinned: the others keep their grid.
    for (const p of [bob, cy]) await settles(p, 'an even grid of 3', evenGrid(3))
    // The strip collapsed: Bob takes the whole stage, the others' tiles go
    // off it, and after a few seconds Cy stops sending Ada video; open, back.
    await ada.click('strip-toggle')
    await settles(ada, 'Bob on the whole stage, the strip away', (g) => {
      const main = g.remotes[bobSlot]
      if (area(main) < 0.9 * area(g.stage)) return `Bob covers ${Math.round((100 * area(main)) / area(g.stage))} % of the stage`
      const others = [...(g.local ? [g.local] : []), ...g.remotes.filter((_, i) => i !== bobSlot)]
      return others.some((r) => overlap(r, g.stage)) ? 'a strip tile still on the stage' : null
    })
    await stillWhile(ada, ['Cy'], ada, 'Bob')
    await ada.click('strip-toggle')
    await settles(ada, "Bob's tile in the spotlight, the strip back", spotlightOn(bobSlot))
    await flows(ada, ['Bob', 'Cy'])
    await ada.evaluate(() => document.querySelector<HTMLButtonElement>('[data-testid="pin-toggle"][aria-pressed="true"]')?.click())
    await settles(ada, 'back to the grid', evenGrid(3))
  }, 60_000)

  it("a screen share takes the stage on the others' pages, with the cameras in a strip", async () => {
    await ada.click('toggle-screen')
    for (const p of [bob, cy]) {
      await settles(
        p,
        "Ada's screen in the spotlight",
        spotlight(
          (g) => g.screens[0],
          (g) => [...(g.local ? [g.local] : []), ...g.remotes],
        ),
      )
    }
    // And the screen plays there.
    for (const p of [bob, cy]) {
      await seesScreenPlaying((fn) => p.evaluate(fn), { who: String(p) })
    }
    await screenshot(bob, 'screen-share')
    await ada.click('toggle-screen')
    for (const p of [bob, cy]) await settles(p, 'back to the grid', evenGrid(3))
  }, 60_000)

  it('chat is closed at first, counts what arrives unread, and clears the count when opened', async () => {
    for (const p of [ada, cy]) await p.waitForTestId('chat-input', { state: 'hidden' })
    await bob.click('toggle-chat')
    for (const text of ['bonjour', 'ça va ?']) {
      await bob.fill('chat-input', text)
      await bob.press('Enter')
    }
    for (const p of [ada, cy]) {
      await p.waitFor(() => document.querySelector('[data-testid="chat-unread"]')?.textContent === '2', 20_000, 'an unread count of 2')
    }
    // Your own messages are never unread.
    expect(await bob.count('chat-unread')).toBe(0)
    await ada.click('toggle-chat')
    await ada.waitForTestId('chat-input')
    expect(await ada.count('chat-unread')).toBe(0)
    // The grid gave the chat its room: still an even grid, beside it.
    await settles(ada, 'an even grid of 3 beside the chat', evenGrid(3))
    await ada.click('chat-close')
    await ada.waitForTestId('chat-input', { state: 'hidden' })
  }, 60_000)

  it("audio only stops the video both ways; turning one person's video off stops theirs alone; both come back", async () => {
    // One person's video, off and on again.
    await ada.evaluate(() => {
      const bob = [...document.querySelectorAll('[data-testid="remote-tile"]')].find((t) => t.querySelector('.name')?.textContent === 'Bob')
      bob?.closest('.slot')?.querySelector<HTMLButtonElement>('[data-testid="video-toggle"]')?.click()
    })
    await ada.waitForTestId('video-paused')
    await stillWhile(ada, ['Bob'], ada, 'Cy')
    await flows(bob, ['Ada', 'Cy'])
    await ada.evaluate(() => document.querySelector<HTMLButtonElement>('[data-testid="video-toggle"][aria-pressed="true"]')?.click())
    await ada.waitForTestId('video-paused', { state: 'detached' })
    await flows(ada, ['Bob', 'Cy'])

    // Audio only: Ada's camera goes off for the others, and nothing comes to her.
    await ada.click('more')
    await ada.click('audio-only')
    expect(await ada.attr('toggle-camera', 'aria-pressed')).toBe('false')
    expect(await ada.count('video-paused')).toBe(2)
    for (const p of [bob, cy]) {
      await p.waitFor(
        () =>
          [...document.querySelectorAll('[data-testid="remote-tile"]')].some(
            (t) => t.querySelector('.name')?.textContent === 'Ada' && t.querySelector('.avatar'),
          ),
        20_000,
        "Ada's initials instead of her video",
      )
    }
    await stillWhile(ada, ['Bob', 'Cy'], bob, 'Cy')
    await ada.click('more')
    await ada.click('audio-only')
    expect(await ada.attr('toggle-camera', 'aria-pressed')).toBe('true')
    await flows(ada, ['Bob', 'Cy'])
    await flows(bob, ['Ada', 'Cy'])

    // A page hidden for a few seconds (a background tab) stops receiving
    // video, and gets it back when seen. Headless pages are never hidden by
    // themselves, so Ada's page is told it is, as a browser tells it.
    const setHidden = (p: Participant, hidden: boolean) =>
      p.evaluate((h: boolean) => {
        Object.defineProperty(document, 'visibilityState', { value: h ? 'hidden' : 'visible', configurable: true })
        document.dispatchEvent(new Event('visibilitychange'))
      }, hidden)
    await setHidden(ada, true)
    await stillWhile(ada, ['Bob', 'Cy'], bob, 'Cy')
    await setHidden(ada, false)
    await flows(ada, ['Bob', 'Cy'])
  }, 120_000)

  it("low bandwidth during the call: switched off, every sender's budget grows at once; on again, it falls back", async () => {
    // Every test participant joins with ?quality=low. Each remote tile shows the bitrate Ada sends that person.
    const budgets = () =>
      ada.evaluate(() => [...document.querySelectorAll<HTMLElement>('[data-testid="tile-quality"]')].map((q) => Number(q.dataset.bps)))
    const low = await budgets()
    expect(low).toHaveLength(2)
    await ada.click('more')
    expect(await ada.attr('low-bandwidth', 'aria-pressed')).toBe('true')
    await ada.click('low-bandwidth')
    let last = low
    await waitUntil(
      async () => {
        last = await budgets()
        return last.every((bps, i) => bps > low[i])
      },
      { what: `${ada}: more budget for every sender`, describe: () => last },
    )
    expect(await ada.evaluate(() => localStorage.getItem('meshcall.videoQuality'))).toBe('standard')
    // The others still see her video.
    await flows(bob, ['Ada'])
    await ada.click('more')
    await ada.click('low-bandwidth')
    await waitUntil(
      async () => {
        last = await budgets()
        return last.every((bps, i) => bps === low[i])
      },
      { what: `${ada}: the low budget again`, describe: () => last },
    )
    expect(await ada.evaluate(() => localStorage.getItem('meshcall.videoQuality'))).toBe('low')
  }, 60_000)

  it('the keyboard shortcuts are listed in a dialog that ? opens', async () => {
    for (const p of [ada, cy]) {
      await p.press('?')
      await p.waitForTestId('shortcuts-help')
      const keys = await p.evaluate(() => [...document.querySelectorAll('[data-testid="shortcuts-help"] kbd')].map((k) => k.textContent))
      expect(keys).toEqual(['M', 'V', 'C', 'I', '?'])
      await p.press('Escape')
      await p.waitForTestId('shortcuts-help', { state: 'hidden' })
    }
  }, 30_000)

  it('4 people: an even grid of four on every page', async () => {
    dee = await join('firefox', room, 'Dee')
    for (const p of [ada, bob, cy, dee]) {
      await seesPlaying(p, 3)
      await settles(p, 'an even grid of 4', evenGrid(4))
    }
  }, 120_000)

  it('follow the speaker: the one speaking takes the stage after a hold-off, keeps it while another talks over them, and hands it on when they stop', async () => {
    // Firefox's fake microphone is a steady tone: Cy and Dee both speak, on
    // and on. Chromium's beeps now and then; Bob mutes, so he is out of it.
    await bob.click('toggle-mic')
    const spotlit = () => ada.evaluate(() => document.querySelector('.slot.spotlit [data-testid="remote-tile"] .name')?.textContent ?? null)
    const followed = async (name: string | null, what: string) => {
      await waitUntil(async () => (await spotlit()) === name, { timeoutMs: 20_000, what: `${ada}: ${what}` })
      return name
    }
    expect(await spotlit()).toBeNull()
    await ada.click('more')
    await ada.click('follow-speaker')
    await waitUntil(async () => ['Cy', 'Dee'].includes((await spotlit()) ?? ''), {
      timeoutMs: 20_000,
      what: `${ada}: Cy or Dee in the spotlight`,
    })
    const first = (await spotlit())!
    const other = first === 'Cy' ? 'Dee' : 'Cy'
    await settles(ada, `${first}'s tile in the spotlight`, spotlightOn(await remoteIndex(ada, first)))
    // Both speak: whoever has the stage keeps it, for as long as Ada's page
    // shows 60 new frames of the other one.
    const frames = () =>
      ada.evaluate((name: string) => {
        const tile = [...document.querySelectorAll('[data-testid="remote-tile"]')].find(
          (t) => t.querySelector('.name')?.textContent === name,
        )
        return tile?.querySelector('video')?.getVideoPlaybackQuality().totalVideoFrames ?? 0
      }, other)
    const start = await frames()
    await waitUntil(
      async () => {
        expect(await spotlit()).toBe(first)
        return (await frames()) > start + 60
      },
      { what: `${ada}: 60 frames of ${other}` },
    )
    // The speaker stops (mutes): the other one takes the stage.
    await (first === 'Cy' ? cy : dee).click('toggle-mic')
    await followed(other, `${other} in the spotlight once ${first} stopped`)
    // A pin still wins, and unpinning goes back to the speaker.
    await ada.evaluate(() => {
      const bob = [...document.querySelectorAll('[data-testid="remote-tile"]')].find((t) => t.querySelector('.name')?.textContent === 'Bob')
      bob?.closest('.slot')?.querySelector<HTMLButtonElement>('[data-testid="pin-toggle"]')?.click()
    })
    await followed('Bob', 'Bob pinned in the spotlight')
    await ada.evaluate(() => document.querySelector<HTMLButtonElement>('[data-testid="pin-toggle"][aria-pressed="true"]')?.click())
    await followed(other, `${other} back in the spotlight`)
    // Off: the grid, and remembered so.
    await ada.click('more')
    expect(await ada.attr('follow-speaker', 'aria-pressed')).toBe('true')
    await ada.click('follow-speaker')
    await settles(ada, 'back to the grid of 4', evenGrid(4))
    expect(await ada.evaluate(() => localStorage.getItem('meshcall.follow'))).toBe('off')
    for (const p of [bob, first === 'Cy' ? cy : dee]) await p.click('toggle-mic')
  }, 120_000)
})

describe('a phone (Chromium mobile emulation, 390×844, touch, no getDisplayMedia)', () => {
  it('fits: no horizontal scroll, a one-line header, one row of controls, the 1:1 layout, and no Present', async () => {
    const room = `phone-${Date.now()}`
    const desk = await join('chromium', room, 'Desk')
    const phone = await join('chromium', room, 'Phone', { device: 'phone' })
    await seesPlaying(phone, 1)
    await settles(phone, 'the 1:1 layout', oneToOne('bottom-right'))
    await screenshot(phone, 'phone')
    const fit = await phone.evaluate(() => {
      const header = document.querySelector('.call-header')!
      const line = parseFloat(getComputedStyle(header.querySelector('.room')!).lineHeight) || 24
      const controls = [...document.querySelectorAll('.controls > .control, .controls > .menu > .control')].map((c) =>
        c.getBoundingClientRect(),
      )
      return {
        overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
        headerHeight: header.getBoundingClientRect().height,
        line,
        rows: new Set(controls.map((c) => Math.round(c.top))).size,
        controls: controls.length,
        rightmost: Math.max(...controls.map((c) => c.right)),
        width: document.documentElement.clientWidth,
      }
    })
    expect(fit.overflow).toBe(0)
    expect(fit.headerHeight).toBeLessThan(fit.line * 2 + 20)
    expect(fit.rows).toBe(1)
    expect(fit.rightmost).toBeLessThanOrEqual(fit.width)
    // No screen to share on a phone: not in the bar, not under "more".
    expect(await phone.count('toggle-screen')).toBe(0)
    await phone.click('more')
    await phone.waitForTestId('copy-link')
    expect(await phone.count('toggle-screen')).toBe(0)
    // The chat opens as a sheet over the stage, and the stage stays whole.
    await phone.click('toggle-chat')
    await phone.waitForTestId('chat-input')
    await settles(phone, 'the 1:1 layout under the chat sheet', oneToOne('bottom-right'))
    await Promise.all([desk, phone].map((p) => p.close()))
  }, 120_000)
})

describe('the whole mesh, seen by everyone (Chromium)', () => {
  it("a participant whose pairs cannot connect: the others' tiles say whom it cannot reach, and their inspector draws every pair", async () => {
    const room = `mesh-${Date.now()}`
    const ann = await join('chromium', room, 'Ann')
    const ben = await join('chromium', room, 'Ben')
    // Zed hides its address (relay only), and this room has no TURN server: Zed reaches nobody.
    const zed = await openParticipant('chromium', app().roomUrl(room, { quality: 'low' }), { name: 'Zed' })
    await zed.fill('display-name', 'Zed')
    await zed.click('relay-only')
    await zed.click('join')
    const hint = (p: Participant, text: string) =>
      p.evaluate((t: string) => [...document.querySelectorAll('[data-testid="mesh-hint"]')].some((h) => h.textContent === t), text)
    await waitUntil(() => hint(ann, "Zed can't reach Ben"), { timeoutMs: 60_000, what: "Ann's page: Zed can't reach Ben" })
    await waitUntil(() => hint(ben, "Zed can't reach Ann"), { timeoutMs: 20_000, what: "Ben's page: Zed can't reach Ann" })
    // Ann and Ben reach each other. Ben's tile on Ann's page names whom Ben cannot reach: Zed only, never Ann.
    await ann.waitFor(
      () => [...document.querySelectorAll<HTMLElement>('[data-testid="remote-tile"]')].some((t) => t.dataset.state === 'connected'),
      20_000,
      "Ben's tile connected",
    )
    await waitUntil(() => hint(ann, "Ben can't reach Zed"), { timeoutMs: 60_000, what: "Ann's page: Ben can't reach Zed" })
    expect(
      await ann.evaluate(() =>
        [...document.querySelectorAll('[data-testid="remote-tile"]')]
          .filter((t) => t.querySelector('.name')?.textContent === 'Ben')
          .map((t) => [t.getAttribute('data-state'), t.querySelector('[data-testid="mesh-hint"]')?.textContent]),
      ),
    ).toEqual([['connected', "Ben can't reach Zed"]])
    // Ann's inspector: the pair between Zed and Ben, which Ann is not part of, drawn as failed.
    const ids = await ann.evaluate(() =>
      Object.fromEntries(
        [...document.querySelectorAll<HTMLElement>('[data-testid="remote-tile"]')].map((t) => [
          t.querySelector('.name')?.textContent,
          t.dataset.peerId,
        ]),
      ),
    )
    await ann.click('inspector-toggle')
    await ann.waitForTestId('inspector')
    const pair = [ids.Zed, ids.Ben].sort().join('~')
    await ann.waitFor(() => document.querySelectorAll('.mesh-svg line').length === 3, 20_000, 'three pairs drawn')
    const drawn = await ann.evaluate(
      (key: string) => document.querySelector<SVGLineElement>(`.mesh-svg line[data-pair="${key}"]`)?.dataset.state,
      pair,
    )
    expect(drawn).toBe('failed')
  }, 120_000)
})

describe('what went wrong, in plain words (Chromium)', () => {
  it('says "You\'re muted" to someone talking into a muted microphone, shows a banner while offline, and switches devices mid-call', async () => {
    const p = await join('chromium', `alone-${Date.now()}`, 'Solo')
    await p.waitForTestId('local-tile')
    // The fake microphone beeps: that is talking, as far as the hint can tell.
    expect(await p.count('muted-hint')).toBe(0)
    await p.click('toggle-mic')
    await p.waitForTestId('muted-hint', { timeoutMs: 10_000 })
    await p.click('toggle-mic')
    await p.waitForTestId('muted-hint', { state: 'detached', timeoutMs: 10_000 })

    const raw = p.raw
    if (raw.kind !== 'chromium') throw new Error('a Chromium page was opened')
    await raw.page.context().setOffline(true)
    await p.waitForTestId('offline-banner')
    await raw.page.context().setOffline(false)
    await p.waitForTestId('offline-banner', { state: 'detached' })

    // Devices switch during the call, from More: Chromium's fake devices include several microphones.
    await p.click('more')
    await p.click('menu-devices')
    await p.waitForTestId('devices-dialog')
    const options = await raw.page.$$eval('#microphone option', (list) =>
      list.map((o) => ({ value: (o as HTMLOptionElement).value, label: o.textContent })),
    )
    expect(options.length).toBeGreaterThan(1)
    const current = await raw.page.$eval('#microphone', (s) => (s as HTMLSelectElement).value)
    const other = options.find((o) => o.value !== current)!
    await raw.page.selectOption('#microphone', other.value)
    // The microphone in use, as the local stream holds it (the tile's video element plays that stream).
    const inUse = () =>
      p.evaluate(
        () =>
          (
            document.querySelector<HTMLVideoElement>('[data-testid="local-tile"] video')?.srcObject as MediaStream | null
          )?.getAudioTracks()[0]?.label,
      )
    await waitUntil(async () => (await inUse()) === other.label, {
      what: `the microphone switched to ${other.label}`,
      describe: () => options,
    })
    await p.click('devices-close')
    await p.waitForTestId('devices-dialog', { state: 'hidden' })
  }, 60_000)
})

describe.each(['chromium', 'firefox'] as const)('French, for a browser whose language is fr-FR (%s)', (kind) => {
  it('the lobby and the call are in French, <html lang> says so, and a switch to English is remembered', async () => {
    const room = `francais-${kind}-${Date.now()}`
    const p = await openParticipant(kind, app().roomUrl(room, { quality: 'low' }), { name: 'Zoé', locale: 'fr-FR' })
    await p.waitForTestId('join')
    expect(await p.evaluate(() => document.documentElement.lang)).toBe('fr')
    expect(await p.evaluate(() => document.querySelector('[data-testid="join"]')?.textContent)).toBe('Rejoindre l’appel')
    await p.fill('display-name', 'Zoé')
    await p.click('join')
    await p.waitFor(() => document.querySelector('.call-header [role="status"]')?.textContent === '1 participant', 20_000, '1 participant')
    const labels = () => p.evaluate(() => [...document.querySelectorAll('.controls > .control .control-label')].map((l) => l.textContent))
    expect(await labels()).toEqual(['Couper le micro', 'Couper la caméra', 'Présenter votre écran', 'Discussion', 'Quitter'])
    if (kind === 'chromium') await screenshot(p, 'french')
    await p.click('toggle-mic')
    expect((await labels())[0]).toBe('Activer le micro')
    // The switch, under "Plus".
    await p.click('more')
    await p.select('language', 'en')
    await p.waitFor(() => document.documentElement.lang === 'en', 5_000, '<html lang="en">')
    expect(await labels()).toEqual(['Unmute', 'Stop camera', 'Present your screen', 'Chat', 'Leave'])
    await p.reload()
    await p.waitForTestId('join')
    expect(await p.evaluate(() => [document.documentElement.lang, document.querySelector('[data-testid="join"]')?.textContent])).toEqual([
      'en',
      'Join call',
    ])
  }, 60_000)
})
