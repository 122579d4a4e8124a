/**
 * A real Chromium participant in the lab: Debian's Chromium started inside
 * a participant's home namespace, driven by playwright-core, on the call
 * page that the lab's room server serves. Besides the page itself, it reads
 * what the page shows and did: the remote tiles, every change of a tile's
 * state badge, the page's RTCPeerConnections, and when each remote video
 * presented a frame.
 *
 * @example
 * ```ts
 * await withLabBrowser(lab, lab.participants[0], { host, scenario: 'x', log }, async (browser) => {
 *   await browser.join(room, 'Chromium 1')
 *   await browser.seesPlaying(1)
 * })
 * ```
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser, type Page } from 'playwright-core'
import { CHROME_PATH, CHROMIUM_ARGS } from '../support/browsers'
import { seesPlaying } from '../support/callPage'
import { waitUntil } from '../support/wait'
import type { Lab, Participant } from './lab'

/** One change of a remote tile's `data-state` (the peer's tag), as the page saw it. */
export type TileChange = { t: number; peerId: string; state: string }

/** A remote tile as the page shows it now. */
export type TileView = {
  peerId: string
  state: string | null
  /** The route badge: `direct` or `relayed`, null before ICE selected a pair. */
  route: string | null
  /** The route badge's tooltip, e.g. `relay → srflx over udp (to the relay over udp)`. */
  routeDetail: string | null
  videoWidth: number
  /** The video's `getVideoPlaybackQuality().totalVideoFrames`. */
  frames: number
  /** The video element's `paused` and `readyState`, and its track's `muted`: why a picture may be frozen. */
  paused: boolean
  readyState: number
  trackMuted: boolean | null
}

/** One RTCPeerConnection the page made. */
export type PeerConnectionView = { createdAt: number; connectionState: string; iceConnectionState: string }

export type LabBrowser = {
  participant: Participant
  page: Page
  /** Console lines and page errors so far, oldest first. */
  logs(): readonly string[]
  /** Opens the room's page with the low-bandwidth setting (`?quality=low`), and joins as `name` through the lobby. */
  join(room: string, name: string): Promise<void>
  /**
   * Waits until `remotes` remote tiles are connected and each video plays
   * (see `seesPlaying`), and then until each has presented
   * {@link NEW_FRAMES} more frames: `seesPlaying` goes by `currentTime`,
   * which is not proof of new pictures, while the frame count is.
   */
  seesPlaying(remotes: number, timeoutMs?: number): Promise<void>
  tiles(): Promise<TileView[]>
  /** Every change of a remote tile's state badge since the page loaded, oldest first. */
  tileChanges(): Promise<TileChange[]>
  /** Every RTCPeerConnection the page made, in order, with its states now. */
  peerConnections(): Promise<PeerConnectionView[]>
  /**
   * From now on, notes when each remote tile's video presents its next frame
   * (`requestVideoFrameCallback`, so a frozen video notes nothing);
   * {@link LabBrowser.framesSinceWatch} reads the times.
   */
  watchFrames(): Promise<void>
  /** When each remote video presented its first frame since the watch, ms since the epoch, by peer id. */
  framesSinceWatch(): Promise<Record<string, number>>
  /**
   * For each remote tile, by peer id: the frames decoded so far by the
   * RTCPeerConnection whose receiver holds the tile's video track (its video
   * inbound-rtp `framesDecoded`, which restarts at 0 if Chrome makes a new
   * receive stream). Beside the tile's own frame count, it tells media that
   * never came back from media that came back but is not shown.
   */
  decodedFrames(): Promise<Record<string, number | null>>
  /**
   * Polls `check` (every 100 ms) until it returns something truthy; throws
   * `what` after `timeoutMs` (default 40 s), with what `describe` says of
   * the last check, the tiles, and the page's last log lines.
   */
  until<T>(check: () => Promise<T>, what: string, options?: { timeoutMs?: number; describe?: () => unknown }): Promise<NonNullable<T>>
  close(): Promise<void>
}

/** What the init script keeps in the page. */
type PageRecord = {
  pcs: { t: number; pc: RTCPeerConnection }[]
  changes: TileChange[]
  /** Per watch: first frame time by peer id, and the video elements already armed. */
  frames: { at: Record<string, number>; armed: WeakSet<HTMLVideoElement> } | null
  /**
   * Arms `requestVideoFrameCallback` on every remote video not armed yet in
   * the current watch. Called at the watch and at every read, so that a
   * video element the app makes afresh is watched too.
   */
  arm(): void
}
type Hooked = Window & { __netlab?: PageRecord }

/** What {@link readRecord} brings back from the page. */
type RecordView = { changes: TileChange[]; pcs: PeerConnectionView[]; frames: Record<string, number> }

const ARTIFACTS = fileURLToPath(new URL('../artifacts/netlab/', import.meta.url))
const VIEWPORT = { width: 1280, height: 720 }
/** Frames a remote video must present, beyond those it had, to count as playing: a third of a second at the low setting's 15 fps. */
const NEW_FRAMES = 5
const MAX_LOG_LINES = 2_000
/**
 * Scripts run by tsx (esbuild with keepNames) wrap named functions in
 * `__name()`, and a function sent to a page carries those calls with it.
 */
const NAME_SHIM = 'globalThis.__name = (f) => f'

/**
 * Runs in every document before the app: keeps each RTCPeerConnection the
 * app makes (the machines take the global constructor when the call starts),
 * and every change of a remote tile's `data-state`, timed as it happens, so
 * that a state held for less than a poll is still seen.
 */
function installHooks() {
  const record: PageRecord = {
    pcs: [],
    changes: [],
    frames: null,
    arm: () => {
      const frames = record.frames
      if (!frames) return
      for (const tile of document.querySelectorAll<HTMLElement>('[data-testid="remote-tile"]')) {
        const peerId = tile.dataset.peerId
        const video = tile.querySelector('video')
        if (!peerId || !video || frames.armed.has(video)) continue
        frames.armed.add(video)
        // The callback runs once, for the next frame the element presents.
        video.requestVideoFrameCallback(() => {
          frames.at[peerId] ??= Date.now()
        })
      }
    },
  }
  const hooked: Hooked = window
  hooked.__netlab = record
  const Native = window.RTCPeerConnection
  class Recorded extends Native {
    constructor(...args: ConstructorParameters<typeof RTCPeerConnection>) {
      super(...args)
      record.pcs.push({ t: Date.now(), pc: this })
    }
  }
  window.RTCPeerConnection = Recorded
  const last = new Map<string, string>()
  const scan = () => {
    for (const tile of document.querySelectorAll<HTMLElement>('[data-testid="remote-tile"]')) {
      const { peerId, state } = tile.dataset
      if (!peerId || !state || last.get(peerId) === state) continue
      last.set(peerId, state)
      record.changes.push({ t: Date.now(), peerId, state })
    }
  }
  new MutationObserver(scan).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-state'] })
}

/**
 * Reads the page's record (in the page), arming the frame watch on any new
 * video first; with `watch`, starts a new frame watch.
 */
function readRecord(watch: boolean): RecordView {
  const hooked: Hooked = window
  const record = hooked.__netlab
  if (!record) throw new Error('the lab hooks are not in this page')
  if (watch) record.frames = { at: {}, armed: new WeakSet() }
  record.arm()
  return {
    changes: record.changes,
    pcs: record.pcs.map(({ t, pc }) => ({ createdAt: t, connectionState: pc.connectionState, iceConnectionState: pc.iceConnectionState })),
    frames: { ...record.frames?.at },
  }
}

/** See {@link LabBrowser.decodedFrames}; runs in the page. */
async function decodedByTile(): Promise<Record<string, number | null>> {
  const hooked: Hooked = window
  const pcs = hooked.__netlab?.pcs ?? []
  const out: Record<string, number | null> = {}
  for (const tile of document.querySelectorAll<HTMLElement>('[data-testid="remote-tile"]')) {
    const video = tile.querySelector('video')
    const track = video?.srcObject instanceof MediaStream ? video.srcObject.getVideoTracks()[0] : undefined
    const owner = track && pcs.find(({ pc }) => pc.getReceivers().some((r) => r.track === track))
    if (!tile.dataset.peerId) continue
    out[tile.dataset.peerId] = null
    if (!owner) continue
    const stats = await owner.pc.getStats(track)
    stats.forEach((stat: { type?: string; kind?: string; framesDecoded?: number }) => {
      if (stat.type === 'inbound-rtp' && stat.kind === 'video' && tile.dataset.peerId) out[tile.dataset.peerId] = stat.framesDecoded ?? null
    })
  }
  return out
}

/**
 * A wrapper that runs Chromium inside the home's namespace. Playwright
 * talks to Chromium over a pipe (fds 3 and 4), which `ip netns exec` and
 * `exec` hand down unchanged, so the browser sees only the home's network
 * while its driver stays in the root namespace.
 */
function chromiumIn(lab: Lab, p: Participant): string {
  const wrapper = join(lab.tmp, `chromium-home${p.index}`)
  writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec '${p.home}' '${CHROME_PATH}' "$@"\n`, { mode: 0o755 })
  return wrapper
}

/**
 * Launches headless Chromium in the participant's home, with a fake camera
 * and microphone, for the page at `http://HOST`. Close it before the lab is
 * torn down; {@link withLabBrowser} does.
 */
export async function openLabBrowser(lab: Lab, p: Participant, { host }: { host: string }): Promise<LabBrowser> {
  if (!existsSync(CHROME_PATH)) throw new Error(`no Chromium at ${CHROME_PATH}: apt-get install chromium, or set CHROME_PATH`)
  const origin = `http://${host}`
  const browser: Browser = await chromium.launch({
    executablePath: chromiumIn(lab, p),
    headless: true,
    // getUserMedia needs a secure context (Media Capture §10), and the lab
    // serves the page over plain HTTP from a non-loopback address.
    args: [...CHROMIUM_ARGS, `--unsafely-treat-insecure-origin-as-secure=${origin}`],
  })
  try {
    const context = await browser.newContext({ viewport: VIEWPORT })
    await context.addInitScript({ content: NAME_SHIM })
    await context.addInitScript(installHooks)
    const page = await context.newPage()
    const lines: string[] = []
    const note = (line: string) => {
      lines.push(line)
      if (lines.length > MAX_LOG_LINES) lines.shift()
    }
    page.on('console', (message) => note(`[${message.type()}] ${message.text()}`))
    page.on('pageerror', (error) => note(`[pageerror] ${error.stack ?? error.message}`))
    page.on('crash', () => note('[crash] the page crashed'))

    const tiles = () =>
      page.evaluate(() =>
        [...document.querySelectorAll<HTMLElement>('[data-testid="remote-tile"]')].map((tile): TileView => {
          const video = tile.querySelector('video')
          const route = tile.querySelector<HTMLElement>('[data-testid="tile-route"]')
          return {
            peerId: tile.dataset.peerId ?? '',
            state: tile.dataset.state ?? null,
            route: route?.dataset.route ?? null,
            routeDetail: route?.title ?? null,
            videoWidth: video?.videoWidth ?? 0,
            frames: video?.getVideoPlaybackQuality().totalVideoFrames ?? 0,
            paused: video?.paused ?? true,
            readyState: video?.readyState ?? 0,
            trackMuted: video?.srcObject instanceof MediaStream ? (video.srcObject.getVideoTracks()[0]?.muted ?? null) : null,
          }
        }),
      )
    const self: LabBrowser = {
      participant: p,
      page,
      logs: () => lines,
      join: async (room, name) => {
        await page.goto(`${origin}/r/${encodeURIComponent(room)}?quality=low`)
        await page.getByTestId('display-name').fill(name)
        await page.getByTestId('join').click()
        await page.getByTestId('local-tile').waitFor()
      },
      seesPlaying: async (remotes, timeoutMs = 40_000) => {
        await seesPlaying((fn) => page.evaluate(fn), remotes, { who: `the browser in home ${p.index}`, timeoutMs, logs: () => lines })
        const start = new Map((await tiles()).map((t) => [t.peerId, t.frames]))
        await self.until(
          async () => {
            const now = await tiles()
            return now.length === remotes && now.every((t) => t.frames >= (start.get(t.peerId) ?? Infinity) + NEW_FRAMES)
          },
          `${NEW_FRAMES} new frames in each of ${remotes} remote videos`,
          { timeoutMs, describe: () => ({ before: Object.fromEntries(start) }) },
        )
      },
      tiles,
      tileChanges: async () => (await page.evaluate(readRecord, false)).changes,
      peerConnections: async () => (await page.evaluate(readRecord, false)).pcs,
      watchFrames: async () => void (await page.evaluate(readRecord, true)),
      framesSinceWatch: async () => (await page.evaluate(readRecord, false)).frames,
      decodedFrames: () => page.evaluate(decodedByTile),
      until: async (check, what, { timeoutMs = 40_000, describe } = {}) => {
        try {
          return await waitUntil(check, { what: `the browser in home ${p.index}: ${what}`, timeoutMs, describe })
        } catch (error) {
          const now = await tiles().catch(() => 'unreadable')
          throw new Error(
            `${error instanceof Error ? error.message : String(error)}\ntiles: ${JSON.stringify(now)}\nthe page's last lines:\n${lines.slice(-15).join('\n')}`,
            { cause: error },
          )
        }
      },
      close: () => browser.close(),
    }
    return self
  } catch (error) {
    await browser.close()
    throw error
  }
}

/**
 * Opens a {@link LabBrowser} in the participant's home, runs `body` with
 * it, and closes it whatever happens, before the caller tears the lab
 * down. When `body` throws, the page's screenshot and console log are saved
 * under `test/artifacts/netlab/<scenario>/` first.
 */
export async function withLabBrowser<T>(
  lab: Lab,
  p: Participant,
  { host, scenario, log }: { host: string; scenario: string; log: (line: string) => void },
  body: (browser: LabBrowser) => Promise<T>,
): Promise<T> {
  log(`Chromium in home ${p.index} (${p.home})`)
  const browser = await openLabBrowser(lab, p, { host })
  try {
    return await body(browser)
  } catch (error) {
    const saved = await saveArtifacts(browser, scenario)
    log(`the browser's screenshot and log: ${saved}`)
    throw error
  } finally {
    await browser.close()
  }
}

/** Saves the page's screenshot and console log; returns the folder. Never throws. */
async function saveArtifacts(browser: LabBrowser, scenario: string): Promise<string> {
  const dir = join(ARTIFACTS, scenario.replace(/[^\w.-]+/g, '_'))
  const base = join(dir, `browser-home${browser.participant.index}`)
  const notes: string[] = []
  try {
    mkdirSync(dir, { recursive: true })
    await browser.page.screenshot({ path: `${base}.png` })
  } catch (error) {
    notes.push(`[harness] no screenshot: ${error instanceof Error ? error.message : String(error)}`)
  }
  try {
    writeFileSync(`${base}.log`, [...browser.logs(), ...notes].join('\n') + '\n')
  } catch {
    // nowhere to write: the thrown error still says what went wrong
  }
  return dir
}
