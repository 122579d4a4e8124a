/**
 * Call timings in real browsers, each beside an anchor measured in the same
 * run, as a ratio: absolute times on a shared 2-core machine drift from run
 * to run, ratios taken side by side hold.
 *
 * - leave: a click on Leave until the tile is gone on every other page,
 *   against a chat message's trip to every other page (the same relay and
 *   the same rendering, with no product timer in between);
 * - reload: from the reload, through the lobby and Join, until every page
 *   shows the participant connected again, against the same participant's
 *   first visit (page load, lobby, Join, connected everywhere).
 *
 * - join: in a 2- and a 4-person call, from the last participant's click
 *   on Join until its page plays a first remote video frame (and a frame
 *   from every remote), against two RTCPeerConnections in one Chromium
 *   page exchanging directly with the same fake camera (from creating them
 *   to the first frame: the lobby already holds the camera when Join is
 *   clicked).
 *
 * A ghost tile left by a reload would show as a reload taking the grace
 * period (10 s) longer than a join. Chromium participants, with the
 * low-bandwidth setting, the built app and the real room server.
 *
 * Run: `npm run bench` (or `npx tsx test/bench/call.ts [--cycles N]`).
 */
import { parseArgs } from 'node:util'
import { startAppServer, type AppServer } from '../support/appServer'
import { closeBrowsers, openParticipant, type Participant } from '../support/participant'
import { median, ratio, writeResults, type Row } from './results'

/**
 * `tiles`: `count` remote tiles, and with `connectedName`, that person's tile
 * connected after having been absent or not connected at some point since
 * arming (so a tile left over from before a reload does not count).
 */
type Condition = { kind: 'tiles'; count: number; connectedName?: string } | { kind: 'chat'; text: string }

const { values } = parseArgs({ options: { cycles: { type: 'string', default: '3' } } })
const CYCLES = Number(values.cycles)

/** Arms a stamp in each page: the page's Date.now() when `condition` first holds, seen by a MutationObserver. */
async function arm(pages: Participant[], condition: Condition): Promise<void> {
  await Promise.all(
    pages.map((page) =>
      page.evaluate((c: Condition) => {
        const w = window as unknown as { benchStamp: number | null }
        w.benchStamp = null
        let wasDown = false
        const holds = () => {
          if (c.kind === 'chat') {
            return [...document.querySelectorAll('[data-testid="chat-message"]')].some((m) => m.textContent?.includes(c.text))
          }
          const tiles = [...document.querySelectorAll<HTMLElement>('[data-testid="remote-tile"]')]
          if (c.connectedName) {
            const up = tiles.some((t) => t.dataset.state === 'connected' && t.querySelector('.name')?.textContent === c.connectedName)
            wasDown ||= !up
            if (!up || !wasDown) return false
          }
          return tiles.length === c.count
        }
        holds()
        const observer = new MutationObserver(() => {
          if (w.benchStamp === null && holds()) {
            w.benchStamp = Date.now()
            observer.disconnect()
          }
        })
        observer.observe(document.body, { childList: true, subtree: true, attributes: true, characterData: true })
      }, condition),
    ),
  )
}

/** Waits for every armed page's stamp, and returns the latest (the last page to see it). */
async function stamped(pages: Participant[], timeoutMs = 60_000): Promise<number> {
  const stamps = await Promise.all(
    pages.map(async (page) => {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const stamp = await page.evaluate(() => (window as unknown as { benchStamp: number | null }).benchStamp)
        if (stamp !== null) return stamp
        if (Date.now() > deadline) throw new Error(`${page}: the condition never held within ${timeoutMs} ms`)
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    }),
  )
  return Math.max(...stamps)
}

/**
 * Opens the room's page in `page` (`load`), joins as `name`, and returns how
 * long from the page load's start until every other page shows `name`
 * connected.
 */
async function timedJoin(page: Participant, load: () => Promise<void>, others: Participant[], name: string): Promise<number> {
  await arm(others, { kind: 'tiles', count: others.length, connectedName: name })
  const started = Date.now()
  await load()
  await page.fill('display-name', name)
  await page.click('join')
  return (await stamped(others)) - started
}

/**
 * Joins `n - 1` participants untimed, then times the last from its click on
 * Join to its first remote frame played (`first`) and to a frame from every
 * remote (`all`), in its page's clock (requestVideoFrameCallback).
 */
async function timedFirstFrame(app: AppServer, n: number): Promise<{ first: number; all: number }> {
  const room = `bench-join-${n}-${Date.now()}`
  const url = app.roomUrl(room, { quality: 'low' })
  const people: Participant[] = []
  try {
    for (let i = 1; i < n; i++) {
      const page = await openParticipant('chromium', undefined, { name: `P${i}` })
      await timedJoin(page, () => page.goto(url), people, `P${i}`)
      people.push(page)
      // In the room, as the server counts: the first has no one to be seen by.
      await untilPeers(app, room, i)
    }
    const last = await openParticipant('chromium', url, { name: 'Last' })
    people.push(last)
    await last.fill('display-name', 'Last')
    await last.evaluate((remotes: number) => {
      const w = window as unknown as { frames_: number[]; clickedAt: number | null }
      w.frames_ = []
      w.clickedAt = null
      document.addEventListener('click', () => (w.clickedAt ??= performance.now()), { capture: true })
      const watched = new WeakSet<HTMLVideoElement>()
      const observer = new MutationObserver(() => {
        for (const video of document.querySelectorAll<HTMLVideoElement>('[data-testid="remote-tile"] video')) {
          if (watched.has(video)) continue
          watched.add(video)
          video.requestVideoFrameCallback(() => {
            w.frames_.push(performance.now())
            if (w.frames_.length >= remotes) observer.disconnect()
          })
        }
      })
      observer.observe(document.body, { childList: true, subtree: true })
    }, n - 1)
    await last.click('join')
    await last.waitFor(
      () =>
        (window as unknown as { frames_: number[] }).frames_.length >= document.querySelectorAll('[data-testid="remote-tile"]').length &&
        document.querySelectorAll('[data-testid="remote-tile"]').length > 0,
      60_000,
      'a frame from every remote',
    )
    const { frames, clickedAt } = await last.evaluate(() => {
      const w = window as unknown as { frames_: number[]; clickedAt: number }
      return { frames: w.frames_, clickedAt: w.clickedAt }
    })
    return { first: Math.min(...frames) - clickedAt, all: Math.max(...frames) - clickedAt }
  } finally {
    for (const p of people) await p.close()
  }
}

/** Waits until the room server counts `count` participants in `room` (its HTTP endpoint). */
async function untilPeers(app: AppServer, room: string, count: number): Promise<void> {
  const url = app.wsUrl(room).replace(/^ws/, 'http')
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline) {
    const { peers } = (await (await fetch(url)).json()) as { peers: number }
    if (peers >= count) return
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  throw new Error(`${room} never held ${count} participants`)
}

/** Two RTCPeerConnections in one page, direct exchange, the lobby's camera: creation → first frame played. */
async function inPageAnchor(app: AppServer): Promise<number> {
  const page = await openParticipant('chromium', app.roomUrl('anchor-page'), { name: 'Anchor' })
  try {
    return await page.evaluate(async () => {
      const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 320, height: 180, frameRate: 15 }, audio: true })
      const t0 = performance.now()
      const a = new RTCPeerConnection()
      const b = new RTCPeerConnection()
      a.onicecandidate = (e) => e.candidate && b.addIceCandidate(e.candidate)
      b.onicecandidate = (e) => e.candidate && a.addIceCandidate(e.candidate)
      for (const track of stream.getTracks()) a.addTrack(track, stream)
      a.createDataChannel('anchor')
      const played = new Promise<number>((resolve) => {
        b.ontrack = (e) => {
          if (e.track.kind !== 'video') return
          const video = document.createElement('video')
          video.muted = true
          video.autoplay = true
          video.srcObject = new MediaStream([e.track])
          document.body.append(video)
          video.requestVideoFrameCallback(() => resolve(performance.now()))
        }
      })
      await a.setLocalDescription()
      await b.setRemoteDescription(a.localDescription!)
      await b.setLocalDescription()
      await a.setRemoteDescription(b.localDescription!)
      const at = await played
      a.close()
      b.close()
      for (const track of stream.getTracks()) track.stop()
      return at - t0
    })
  } finally {
    await page.close()
  }
}

async function main() {
  const app = await startAppServer()
  const samples = { join: [] as number[], reload: [] as number[], chat: [] as number[], leave: [] as number[] }
  const firstFrame: Record<string, { first: number[]; all: number[] }> = { 2: { first: [], all: [] }, 4: { first: [], all: [] } }
  const anchor: number[] = []
  try {
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      anchor.push(await inPageAnchor(app))
      for (const n of [2, 4]) {
        const { first, all } = await timedFirstFrame(app, n)
        firstFrame[n].first.push(first)
        firstFrame[n].all.push(all)
      }
    }

    const room = `bench-call-${Date.now()}`
    const people: Participant[] = []
    const url = app.roomUrl(room, { quality: 'low' })
    for (const name of ['Ada', 'Bob', 'Cy']) {
      const page = await openParticipant('chromium', undefined, { name })
      await timedJoin(page, () => page.goto(url), people, name)
      people.push(page)
    }
    // The chat starts closed: Ada, who sends, opens it.
    await people[0].click('toggle-chat')
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const dee = await openParticipant('chromium', undefined, { name: 'Dee' })
      samples.join.push(await timedJoin(dee, () => dee.goto(url), people, 'Dee'))

      const text = `bench ${cycle}`
      await arm(people.slice(1), { kind: 'chat', text })
      await people[0].fill('chat-input', text)
      const sent = Date.now()
      await people[0].press('Enter')
      samples.chat.push((await stamped(people.slice(1))) - sent)

      samples.reload.push(await timedJoin(dee, () => dee.reload(), people, 'Dee'))

      await arm(people, { kind: 'tiles', count: 2 })
      const left = Date.now()
      await dee.click('leave')
      samples.leave.push((await stamped(people)) - left)
      await dee.close()
    }
  } finally {
    await closeBrowsers()
    await app.stop()
  }
  const row = (figure: string, ms: number, anchorName: string, anchorMs: number): Row => ({
    figure,
    meshcall: ms,
    unit: 'ms',
    anchor: anchorName,
    anchorValue: anchorMs,
    ratio: ratio(ms, anchorMs),
  })
  const pagePair = median(anchor)
  const rows = [
    row('browser join, 2 people: Join → first remote frame', median(firstFrame[2].first), 'two connections in one page', pagePair),
    row('browser join, 4 people: Join → first remote frame', median(firstFrame[4].first), 'two connections in one page', pagePair),
    row('browser join, 4 people: Join → a frame from all 3', median(firstFrame[4].all), 'two connections in one page', pagePair),
    row('leave → tile gone everywhere (4 people)', median(samples.leave), 'chat message → shown everywhere', median(samples.chat)),
    row('reload → connected everywhere (4 people)', median(samples.reload), 'first visit → connected everywhere', median(samples.join)),
  ]
  writeResults('call', `call timings in Chromium, median of ${CYCLES}`, rows, { samples, firstFrame, anchor })
}

await main()
process.exit(0)
