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
 * A ghost tile left by a reload would show as a reload taking the grace
 * period (10 s) longer than a join. Four Chromium participants, with the
 * low-bandwidth setting, the built app and the real room server.
 *
 * Run: `npm run bench` (or `npx tsx test/bench/call.ts [--cycles N]`).
 */
import { parseArgs } from 'node:util'
import { startAppServer } from '../support/appServer'
import { closeBrowsers, openParticipant, type Participant } from '../support/participant'

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

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]

async function main() {
  const app = await startAppServer()
  const samples = { join: [] as number[], reload: [] as number[], chat: [] as number[], leave: [] as number[] }
  try {
    const room = `bench-call-${Date.now()}`
    const people: Participant[] = []
    const url = app.roomUrl(room, { quality: 'low' })
    for (const name of ['Ada', 'Bob', 'Cy']) {
      const page = await openParticipant('chromium', undefined, { name })
      await timedJoin(page, () => page.goto(url), people, name)
      people.push(page)
    }
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
  const rows = [
    {
      figure: 'leave → tile gone everywhere',
      ms: median(samples.leave),
      anchor: 'chat message → shown everywhere',
      anchorMs: median(samples.chat),
    },
    {
      figure: 'reload → connected everywhere',
      ms: median(samples.reload),
      anchor: 'first visit → connected everywhere',
      anchorMs: median(samples.join),
    },
  ]
  console.log(`\ncall timings, 4 Chromium participants, median of ${CYCLES}`)
  console.table(rows.map((r) => ({ ...r, ratio: `${(r.ms / r.anchorMs).toFixed(2)}×` })))
  console.log(JSON.stringify({ samples }))
}

await main()
