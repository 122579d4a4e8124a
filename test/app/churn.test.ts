import { describe, expect, it } from 'vitest'
import { appForFile } from '../support/appServer'
import { seesPlaying as playing } from '../support/callPage'
import { openParticipant, saveArtifactsOnFailure, type Participant } from '../support/participant'

// The built app and the real room server in Chromium: one page stays in the
// call while another joins, reloads and leaves, again and again. The page
// that stays must end with nothing the cycles made: no RTCPeerConnection
// open, and its heap after GC where it was.
saveArtifactsOnFailure()

/** Cycles measured against the baseline. */
const CYCLES = 30
/** Cycles at the least before the baseline (see `timelineFull`). */
const WARM_UP = 3

const app = appForFile()

type Counted = Window & {
  __pcs?: { made: number; live: Set<RTCPeerConnection> }
  meshcall?: { recorder: { size(): { bytes: number; maxBytes: number } } }
}

/** Runs in the page before the app: counts the RTCPeerConnections it makes, and holds those not yet closed. */
function countConnections() {
  const counted: Counted = window
  const record = { made: 0, live: new Set<RTCPeerConnection>() }
  counted.__pcs = record
  const Native = window.RTCPeerConnection
  class Counting extends Native {
    constructor(...args: ConstructorParameters<typeof RTCPeerConnection>) {
      super(...args)
      record.made++
      record.live.add(this)
    }
    override close() {
      super.close()
      record.live.delete(this)
    }
  }
  window.RTCPeerConnection = Counting
}

const seesPlaying = (p: Participant, remotes: number) => playing((fn) => p.evaluate(fn), remotes, { who: String(p), logs: () => p.logs() })

async function joinFromLobby(p: Participant, name: string) {
  await p.fill('display-name', name)
  await p.click('join')
}

describe('churn in Chromium', () => {
  it(`${CYCLES} cycles of a participant joining, reloading and leaving leave the page that stays with no connection open and its heap where it was`, async () => {
    const room = `churn-${Date.now()}`
    const url = app().roomUrl(room, { quality: 'low' })
    const ada = await openParticipant('chromium', undefined, { name: 'Ada' })
    if (ada.raw.kind !== 'chromium') throw new Error('unreachable')
    const page = ada.raw.page
    await page.addInitScript(countConnections)
    await ada.goto(url)
    await joinFromLobby(ada, 'Ada')
    const cdp = await page.context().newCDPSession(page)
    const heapAfterGc = async () => {
      await cdp.send('HeapProfiler.collectGarbage')
      return (await cdp.send('Runtime.getHeapUsage')).usedSize
    }
    const connections = () =>
      ada.evaluate(() => {
        const record = (window as Counted).__pcs
        return { made: record?.made ?? 0, open: [...(record?.live ?? [])].filter((pc) => pc.connectionState !== 'closed').length }
      })

    // The page's inspector timeline grows up to its size bound and then
    // stays there: the baseline is taken once it is full, or the bound
    // itself would count as a leak.
    const timelineFull = () =>
      ada.evaluate(() => {
        const size = (window as Counted).meshcall?.recorder.size()
        return size !== undefined && size.bytes >= size.maxBytes * 0.95
      })
    const bob = await openParticipant('chromium', url, { name: 'Bob' })
    let baseline = 0
    let measured = 0
    let cycle = 0
    for (; measured < CYCLES; cycle++) {
      await joinFromLobby(bob, 'Bob')
      await seesPlaying(ada, 1)
      // A reload: the page goes, the next one joins again from the lobby.
      await bob.reload()
      await joinFromLobby(bob, 'Bob')
      await seesPlaying(ada, 1)
      expect((await connections()).open, `cycle ${cycle}: Ada's connections while Bob is in`).toBe(1)
      await bob.click('leave')
      await bob.waitForTestId('left', { state: 'attached' })
      await ada.waitFor(() => document.querySelectorAll('[data-testid="remote-tile"]').length === 0, 20_000, "Bob's tile to go")
      expect((await connections()).open, `cycle ${cycle}: Ada's connections once Bob left`).toBe(0)
      await bob.goto(url)
      if (baseline > 0) measured++
      else if (cycle >= WARM_UP - 1 && (await timelineFull())) baseline = await heapAfterGc()
      expect(cycle, 'cycles before the timeline filled').toBeLessThan(200)
    }
    const { made, open } = await connections()
    const heap = await heapAfterGc()
    console.log(
      `Chromium churn: ${cycle - CYCLES} + ${CYCLES} cycles, ${made} RTCPeerConnections made by the page that stayed, ${open} open; ` +
        `its heap after GC ${(baseline / 2 ** 20).toFixed(1)} → ${(heap / 2 ** 20).toFixed(1)} MiB`,
    )
    // Each cycle met Bob twice (before and after his reload).
    expect(made).toBeGreaterThanOrEqual(2 * cycle)
    expect(open).toBe(0)
    expect(heap, "the page's heap after GC, against the end of the warm-up").toBeLessThanOrEqual(baseline * 1.1)
  }, 600_000)
})
