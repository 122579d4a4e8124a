import { existsSync, readFileSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { closeBrowsers, openParticipant, saveArtifacts, saveArtifactsOnFailure, type BrowserKind, type Participant } from './participant'
import { waitUntil } from './wait'

type TrackInfo = { kind: string; label: string; width: number; height: number }
type VideoInfo = { width: number; height: number; time: number }
type Candidate = RTCIceCandidateInit | null

/** What the fixture page's script puts on `window`; only ever used inside `evaluate`. */
declare const harness: {
  camera(): Promise<TrackInfo[]>
  screen(): Promise<TrackInfo[]>
  connect(): void
  offer(): Promise<RTCSessionDescriptionInit>
  answer(offer: RTCSessionDescriptionInit): Promise<RTCSessionDescriptionInit>
  accept(answer: RTCSessionDescriptionInit): Promise<void>
  candidates(): Candidate[]
  addCandidates(candidates: Candidate[]): Promise<void>
  connectionState(): RTCPeerConnectionState
  video(testId: string): VideoInfo
}

// A page served from http://127.0.0.1, which is a secure context, so
// mediaDevices exists (it does not on about:blank in Firefox).
const FIXTURE = `<!doctype html>
<title>harness</title>
<input data-testid="name" />
<button data-testid="add" type="button">Add</button>
<select data-testid="pick"><option value="a">A</option><option value="b">B</option></select>
<ul></ul>
<p data-testid="hidden" hidden>hidden</p>
<video data-testid="local-video" autoplay muted playsinline></video>
<video data-testid="remote-video" autoplay muted playsinline></video>
<script>
  const add = (key) => {
    const item = document.createElement('li')
    item.dataset.testid = 'item'
    item.dataset.text = document.querySelector('[data-testid=name]').value
    item.dataset.key = key
    document.querySelector('ul').append(item)
  }
  document.querySelector('[data-testid=add]').onclick = () => add('click')
  document.querySelector('[data-testid=pick]').onchange = (event) => add('pick ' + event.target.value)
  document.querySelector('[data-testid=name]').onkeydown = (event) => {
    if (event.key === 'Enter') add(event.shiftKey ? 'shift+enter' : 'enter')
  }
  const byTestId = (id) => document.querySelector('[data-testid="' + id + '"]')
  const show = (stream) => {
    window.local = stream
    byTestId('local-video').srcObject = stream
    return stream.getTracks().map((t) => ({ kind: t.kind, label: t.label, width: t.getSettings().width ?? 0, height: t.getSettings().height ?? 0 }))
  }
  const outbox = []
  let pc
  window.harness = {
    camera: async () => show(await navigator.mediaDevices.getUserMedia({ video: true, audio: true })),
    screen: async () => show(await navigator.mediaDevices.getDisplayMedia({ video: true })),
    connect() {
      pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' })
      pc.onicecandidate = (event) => outbox.push(event.candidate ? event.candidate.toJSON() : null)
      pc.ontrack = (event) => { byTestId('remote-video').srcObject = event.streams[0] }
      for (const track of window.local.getTracks()) pc.addTrack(track, window.local)
    },
    async offer() { await pc.setLocalDescription(); return pc.localDescription.toJSON() },
    async answer(offer) { await pc.setRemoteDescription(offer); await pc.setLocalDescription(); return pc.localDescription.toJSON() },
    async accept(answer) { await pc.setRemoteDescription(answer) },
    candidates: () => outbox.splice(0),
    async addCandidates(candidates) { for (const candidate of candidates) await pc.addIceCandidate(candidate ?? undefined) },
    connectionState: () => pc.connectionState,
    video(testId) {
      const video = byTestId(testId)
      return { width: video.videoWidth, height: video.videoHeight, time: video.currentTime }
    },
  }
</script>`

let server: Server
let url: string

saveArtifactsOnFailure()

beforeAll(async () => {
  server = createServer((_request, response) => response.writeHead(200, { 'content-type': 'text/html' }).end(FIXTURE))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
})

afterAll(async () => {
  await closeBrowsers()
  await new Promise((resolve) => server?.close(resolve))
})

/** Waits until `testId`'s video has frames and its playback clock moves on. */
async function expectVideoPlaying(participant: Participant, testId: string) {
  const info = () => participant.evaluate((id: string) => harness.video(id), testId)
  const first = await waitUntil(
    async () => {
      const video = await info()
      return video.width > 0 ? video : undefined
    },
    { what: `${participant} ${testId} to have frames`, timeoutMs: 10_000 },
  )
  await waitUntil(async () => (await info()).time > first.time + 0.3, { what: `${participant} ${testId} to advance`, timeoutMs: 10_000 })
}

/** Relays trickled candidates both ways until both ends are connected; fails fast on `failed`. */
async function relayUntilConnected(a: Participant, b: Participant) {
  const relay = async (from: Participant, to: Participant) => {
    const candidates = await from.evaluate(() => harness.candidates())
    if (candidates.length > 0) await to.evaluate((list: Candidate[]) => harness.addCandidates(list), candidates)
  }
  await waitUntil(
    async () => {
      await relay(a, b)
      await relay(b, a)
      const states = await Promise.all([a, b].map((p) => p.evaluate(() => harness.connectionState())))
      if (states.includes('failed')) throw new Error(`ICE failed: ${a} ${states[0]}, ${b} ${states[1]}`)
      return states.every((state) => state === 'connected')
    },
    { what: `${a} and ${b} to connect`, timeoutMs: 15_000 },
  )
}

/** Camera on both sides, `a` offers, candidates relayed by the test, then video must play at both ends. */
async function call(a: Participant, b: Participant) {
  for (const p of [a, b]) {
    await p.evaluate(() => harness.camera())
    await p.evaluate(() => harness.connect())
  }
  const offer = await a.evaluate(() => harness.offer())
  const answer = await b.evaluate((o: RTCSessionDescriptionInit) => harness.answer(o), offer)
  await a.evaluate((description: RTCSessionDescriptionInit) => harness.accept(description), answer)
  await relayUntilConnected(a, b)
  await expectVideoPlaying(b, 'remote-video')
  await expectVideoPlaying(a, 'remote-video')
}

describe('browsers', () => {
  it.each<BrowserKind>(['chromium', 'firefox'])('%s gives getUserMedia a fake camera and microphone', async (kind) => {
    const participant = await openParticipant(kind, url)
    const tracks = await participant.evaluate(() => harness.camera())
    expect(tracks.map((t) => t.kind).sort()).toEqual(['audio', 'video'])
    expect(tracks.find((t) => t.kind === 'video')?.width).toBeGreaterThan(0)
    await expectVideoPlaying(participant, 'local-video')
    await participant.close()
  })

  it('connects a Chromium page and a Firefox page with video flowing both ways', async () => {
    const chrome = await openParticipant('chromium', url, { name: 'chrome' })
    const firefox = await openParticipant('firefox', url, { name: 'firefox' })
    await call(chrome, firefox)
    await Promise.all([chrome.close(), firefox.close()])
  })

  it('keeps two Firefox participants of one browser visible, enumerating and connected', async () => {
    const first = await openParticipant('firefox', url, { name: 'first' })
    const second = await openParticipant('firefox', url, { name: 'second' })
    for (const p of [first, second]) {
      // Only one window has focus; the other must still run at full speed and list devices.
      expect(await p.evaluate(() => document.visibilityState)).toBe('visible')
      const kinds = await p.evaluate(async () => (await navigator.mediaDevices.enumerateDevices()).map((d) => d.kind))
      expect(kinds).toContain('videoinput')
    }
    await call(first, second)
    await Promise.all([first.close(), second.close()])
  })

  it('gives getDisplayMedia in Chromium a 1280x720 fake screen', async () => {
    const participant = await openParticipant('chromium', url)
    const [track] = await participant.evaluate(() => harness.screen())
    expect(track.kind).toBe('video')
    expect(track.width).toBeGreaterThanOrEqual(1200)
    expect(track.height).toBeGreaterThanOrEqual(640)
    await participant.close()
  })
})

describe('participant', () => {
  it.each<BrowserKind>(['chromium', 'firefox'])('fills, clicks, presses, counts and waits the same in %s', async (kind) => {
    const p = await openParticipant(kind, url)
    await p.fill('name', 'Ada')
    await p.press('Enter')
    await p.press('Shift+Enter')
    await p.click('add')
    await p.waitForTestId('item', { state: 'visible' })
    await p.select('pick', 'b')
    expect(await p.count('item')).toBe(4)
    expect(await p.attr('item', 'data-text', 2)).toBe('Ada')
    expect(await Promise.all([0, 1, 2, 3].map((i) => p.attr('item', 'data-key', i)))).toEqual(['enter', 'shift+enter', 'click', 'pick b'])
    expect(await p.attr('item', 'data-missing')).toBeNull()
    await expect(p.attr('item', 'data-text', 5)).rejects.toThrow(/no \[data-testid="item"\] at index 5 \(there are 4\)/)
    await p.waitForTestId('hidden', { state: 'hidden' })
    await p.waitForTestId('hidden', { state: 'attached' })
    await p.waitForTestId('nothing', { state: 'detached' })
    await expect(p.waitForTestId('hidden', { timeoutMs: 300 })).rejects.toThrow(/was not visible within 300 ms \(1 present\)/)
    await p.evaluate(() => setTimeout(() => document.querySelector('ul')?.replaceChildren(), 200))
    await p.waitFor(() => document.querySelectorAll('li').length === 0, 5_000)
    await p.reload()
    expect(await p.count('item')).toBe(0)
    await p.close()
  })

  it.each<BrowserKind>(['chromium', 'firefox'])('opens a participant whose browser asks for French first in %s', async (kind) => {
    const p = await openParticipant(kind, url, { locale: 'fr-FR' })
    expect(await p.evaluate(() => navigator.language)).toBe('fr-FR')
    // And one opened after it, without a locale, does not.
    const q = await openParticipant(kind, url)
    expect(await q.evaluate(() => navigator.language)).not.toBe('fr-FR')
    await Promise.all([p.close(), q.close()])
  })

  it('saves a screenshot and the console log of every open participant', async () => {
    const chrome = await openParticipant('chromium', url, { name: 'artifact chrome' })
    const firefox = await openParticipant('firefox', url, { name: 'artifact firefox' })
    await Promise.all([chrome, firefox].map((p) => p.evaluate(() => console.warn('hello from the page'))))
    await waitUntil(() => chrome.logs().length > 0 && firefox.logs().length > 0, { what: 'console lines', timeoutMs: 5_000 })
    const files = await saveArtifacts('harness self-test')
    try {
      // Participants left open by an earlier failed test would be captured too.
      expect(files.map((f) => f.replace(/^.*\/test\/artifacts\//, ''))).toEqual(
        expect.arrayContaining([
          'harness_self-test/artifact_chrome.png',
          'harness_self-test/artifact_chrome.log',
          'harness_self-test/artifact_firefox.png',
          'harness_self-test/artifact_firefox.log',
        ]),
      )
      for (const png of files.filter((f) => f.endsWith('.png'))) {
        expect(readFileSync(png).subarray(1, 4).toString()).toBe('PNG')
      }
      for (const log of files.filter((f) => f.endsWith('.log'))) {
        expect(readFileSync(log, 'utf8')).toContain('[warn] hello from the page')
      }
    } finally {
      const dir = files[0]?.replace(/\/[^/]+$/, '')
      if (dir && existsSync(dir)) rmSync(dir, { recursive: true, force: true })
    }
    await Promise.all([chrome.close(), firefox.close()])
  })
})
