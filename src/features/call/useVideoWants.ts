import { useEffect, useState } from 'react'
import type { ActorRefFrom } from 'xstate'
import type { peerMachine } from '../../../machines/peerMachine'

/** How long the page, or a tile, must stay hidden before its remote video is paused. */
const HIDDEN_MS = 3_000

/** Whether the page has been hidden (a background tab, a minimised window) for more than {@link HIDDEN_MS}. */
export function useLongHidden(): boolean {
  const [hidden, setHidden] = useState(false)
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined
    const update = () => {
      clearTimeout(timer)
      if (document.visibilityState === 'hidden') timer = setTimeout(() => setHidden(true), HIDDEN_MS)
      else setHidden(false)
    }
    update()
    document.addEventListener('visibilitychange', update)
    return () => {
      clearTimeout(timer)
      document.removeEventListener('visibilitychange', update)
    }
  }, [])
  return hidden
}

/**
 * Tells each peer whether we want its camera video: not in audio-only
 * mode, not for a person whose video was turned off here, and not while the
 * page is hidden. The peer machine passes it on over the data channel, and
 * the remote stops encoding that copy (`machines/peer/media.ts`).
 */
export function useVideoWants(
  peers: Record<string, ActorRefFrom<typeof peerMachine>>,
  { audioOnly, videoOff, hidden, away }: { audioOnly: boolean; videoOff: ReadonlySet<string>; hidden: boolean; away: ReadonlySet<string> },
): void {
  useEffect(() => {
    for (const [id, ref] of Object.entries(peers))
      ref.send({ type: 'ui.wantVideo', want: !audioOnly && !hidden && !videoOff.has(id) && !away.has(id) })
  }, [peers, audioOnly, videoOff, hidden, away])
}

/**
 * The tiles among `keys` that have been off the stage (a collapsed strip's)
 * for more than {@link HIDDEN_MS}: a glance away does not pause anything.
 */
export function useLongAway(keys: readonly string[]): ReadonlySet<string> {
  const [away, setAway] = useState<ReadonlySet<string>>(() => new Set())
  const joined = keys.join(' ')
  useEffect(() => {
    const now = joined ? joined.split(' ') : []
    // Back on the stage: wanted again at once; gone off it: after the wait.
    setAway((old) => (now.length === 0 && old.size === 0 ? old : new Set([...old].filter((key) => now.includes(key)))))
    if (now.length === 0) return
    const timer = setTimeout(() => setAway(new Set(now)), HIDDEN_MS)
    return () => clearTimeout(timer)
  }, [joined])
  return away
}
