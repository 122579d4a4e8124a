/**
 * What the tests and measurements read off a call page, whichever driver
 * runs it (the Participant helpers, or a raw playwright page).
 */
import { waitUntil } from './wait'

/** Runs a function in the page and returns its JSON-serialisable result. */
export type Evaluate = <R>(fn: () => R) => Promise<R>

type TileState = { state: string | undefined; width: number; time: number }

/**
 * Waits until the page shows `remotes` remote tiles, all connected, and each
 * tile's video really plays: frames decoded (a size) and time advancing.
 *
 * @example
 * await seesPlaying((fn) => alice.evaluate(fn), 2, { who: 'alice' })
 */
export async function seesPlaying(
  evaluate: Evaluate,
  remotes: number,
  { who, timeoutMs = 30_000, logs }: { who: string; timeoutMs?: number; logs?: () => readonly string[] },
): Promise<void> {
  const tiles = () =>
    evaluate(() =>
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
    { timeoutMs, what: `${who}: ${remotes} connected remote tiles`, describe: () => logs?.().slice(-10) ?? [] },
  )
  let last: TileState[] = connected
  await waitUntil(
    async () => {
      last = await tiles()
      return last.length === remotes && last.every((t, i) => t.width > 0 && t.time > connected[i].time + 0.3)
    },
    { timeoutMs, what: `${who}: every remote video playing`, describe: () => last },
  )
}

/** Waits until the page plays a remote screen share: frames decoded and time advancing. */
export async function seesScreenPlaying(
  evaluate: Evaluate,
  { who, timeoutMs = 30_000 }: { who: string; timeoutMs?: number },
): Promise<void> {
  await waitUntil(
    () =>
      evaluate(() => {
        const video = document.querySelector<HTMLVideoElement>('[data-testid="remote-screen"] video')
        return video !== null && video.videoWidth > 0 && video.currentTime > 0
      }),
    { timeoutMs, what: `${who}: the shared screen playing` },
  )
}
