import { useEffect, useState } from 'react'
import type { ActorRefFrom } from 'xstate'
import type { peerMachine } from '../../../machines/peerMachine'

/** How long the page must stay hidden before its remote video is paused. */
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
  { audioOnly, videoOff, hidden }: { audioOnly: boolean; videoOff: ReadonlySet<string>; hidden: boolean },
): void {
  useEffect(() => {
    for (const [id, ref] of Object.entries(peers)) ref.send({ type: 'ui.wantVideo', want: !audioOnly && !hidden && !videoOff.has(id) })
  }, [peers, audioOnly, videoOff, hidden])
}
