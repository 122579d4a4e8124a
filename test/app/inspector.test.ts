import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { appForFile } from '../support/appServer'
import { openParticipant, saveArtifactsOnFailure, type Participant } from '../support/participant'
import { waitUntil } from '../support/wait'

saveArtifactsOnFailure()

const app = appForFile()

async function joinCall(room: string, name: string): Promise<Participant> {
  const participant = await openParticipant('chromium', app().roomUrl(room, { quality: 'low' }), { name })
  await participant.fill('display-name', name)
  await participant.click('join')
  return participant
}

describe('the inspector in a three-person call', () => {
  const room = `inspect-${Date.now()}`
  let people: Participant[] = []

  it("draws each peer's statechart with its active state connected, and its stats charts receive points", async () => {
    people = [await joinCall(room, 'Ada'), await joinCall(room, 'Bob'), await joinCall(room, 'Cy')]
    const [ada] = people
    await ada.waitFor(
      () => document.querySelectorAll('[data-testid="remote-tile"][data-state="connected"]').length === 2,
      30_000,
      'two connected peers',
    )
    const peerIds = await ada.evaluate(() =>
      [...document.querySelectorAll<HTMLElement>('[data-testid="remote-tile"]')].map((t) => t.dataset.peerId ?? ''),
    )

    await ada.click('inspector-toggle')
    // The panel's chunk loads on first open, and its layout runs then.
    await ada.waitForTestId('inspector', { timeoutMs: 30_000 })
    for (const actor of ['room', 'media', ...peerIds]) {
      await waitUntil(
        () =>
          ada.evaluate((id) => document.querySelector(`[data-testid="statechart"][data-actor="${id}"] [data-state-id]`) !== null, actor),
        { what: `the statechart of ${actor}` },
      )
    }
    // The layout ran in ELK's worker, off the call's main thread; the bundled build never loaded.
    const scripts = await ada.evaluate(() => performance.getEntriesByType('resource').map((e) => e.name))
    expect(scripts.some((name) => /elk-worker/.test(name))).toBe(true)
    expect(scripts.some((name) => /elk\.bundled/.test(name))).toBe(false)
    for (const peerId of peerIds) {
      const active = await ada.evaluate(
        (id) =>
          [...document.querySelectorAll<SVGElement>(`[data-testid="statechart"][data-actor="${id}"] [data-active="true"]`)].map(
            (node) => node.dataset.stateId,
          ),
        peerId,
      )
      expect(active).toContain('peer.active.connection.connected')
      expect(active).toContain('peer.active.channel.open')
    }
    await waitUntil(
      () =>
        ada.evaluate(
          () =>
            [...document.querySelectorAll<HTMLElement>('[data-testid="stats-chart"]')].filter((c) => Number(c.dataset.points) >= 2).length,
        ),
      { what: 'stats charts with points', timeoutMs: 15_000 },
    )
    expect(await ada.count('timeline-entry')).toBeGreaterThan(10)
    // Each pair's safety code, beside its descriptions, is the one its tile shows.
    await ada.evaluate(() => {
      for (const button of document.querySelectorAll<HTMLButtonElement>('[data-testid="safety-toggle"]')) button.click()
    })
    await ada.waitFor(
      () => {
        const text = (selector: string) => [...document.querySelectorAll(selector)].map((c) => c.textContent ?? '')
        const tiles = text('[data-testid="safety-code"] code')
        const inspector = text('[data-testid="inspector-safety-code"] code')
        return tiles.length === 2 && tiles.every((code) => /^\d{5}( \d{5}){3}$/.test(code) && inspector.includes(code))
      },
      15_000,
      'the same safety codes on the tiles and in the inspector',
    )
  }, 120_000)

  it('selecting a timeline entry shows that moment (time travel)', async () => {
    const [ada] = people
    await ada.evaluate(() => {
      const entries = [...document.querySelectorAll<HTMLButtonElement>('[data-testid="timeline-entry"]')]
      entries.find((e) => e.textContent?.includes('→'))?.click()
    })
    await ada.waitFor(
      () => document.querySelector('.snapshot summary')?.textContent?.includes(' at #') === true,
      15_000,
      'the snapshot at that moment',
    )
  }, 30_000)

  it('exports a dump that the /inspect page loads and replays', async () => {
    const [ada] = people
    const raw = ada.raw
    if (raw.kind !== 'chromium') throw new Error('export is checked in Chromium')
    const [download] = await Promise.all([raw.page.waitForEvent('download'), ada.click('export-dump')])
    const dumpPath = join(mkdtempSync(join(tmpdir(), 'meshcall-export-')), download.suggestedFilename())
    await download.saveAs(dumpPath)
    expect(download.suggestedFilename()).toMatch(/^meshcall-inspect-.*\.json$/)

    const viewer = await openParticipant('chromium', `${app().url}/inspect`, { name: 'viewer' })
    const page = viewer.raw
    if (page.kind !== 'chromium') throw new Error('unreachable')
    await page.page.setInputFiles('[data-testid="dump-file"]', dumpPath)
    await viewer.waitForTestId('dump-summary')
    await viewer.waitFor(() => document.querySelectorAll('[data-testid="statechart"]').length >= 4, 20_000, 'the recorded statecharts')
    expect(await viewer.count('timeline-entry')).toBeGreaterThan(10)
    // The scrubber moves the whole view to an earlier moment.
    await viewer.evaluate(() => {
      const scrubber = document.querySelector<HTMLInputElement>('[data-testid="scrubber"]')
      if (!scrubber) return
      const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value')?.set
      setter?.call(scrubber, '0')
      scrubber.dispatchEvent(new Event('input', { bubbles: true }))
    })
    await viewer.waitFor(() => document.querySelector('output')?.textContent?.startsWith('#') === true, 15_000, 'an earlier moment')
  }, 90_000)
})
