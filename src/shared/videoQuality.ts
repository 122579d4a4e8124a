import { isVideoQuality, type VideoQuality } from '../../machines/videoQuality'
import { CallContext } from './callContext'

const KEY = 'meshcall.videoQuality'

/**
 * The low-bandwidth setting: `?quality=low` (or `standard`) in the room link
 * sets it and remembers it for later calls; otherwise the remembered one, or
 * `standard`.
 */
export function loadVideoQuality(search: string): VideoQuality {
  const asked = new URLSearchParams(search).get('quality')
  try {
    if (isVideoQuality(asked)) {
      localStorage.setItem(KEY, asked)
      return asked
    }
    const kept = localStorage.getItem(KEY)
    return isVideoQuality(kept) ? kept : 'standard'
  } catch {
    // storage refused (private mode): the link's choice holds for this call only
    return isVideoQuality(asked) ? asked : 'standard'
  }
}

/**
 * The low-bandwidth setting as the call holds it, and its switch: the call
 * resizes what it sends at once (capture and uplink budget), and the choice
 * is remembered for later calls.
 */
export function useLowBandwidth(): [boolean, (low: boolean) => void] {
  const call = CallContext.useActorRef()
  const low = CallContext.useSelector((s) => s.context.videoQuality === 'low')
  return [
    low,
    (next) => {
      const quality: VideoQuality = next ? 'low' : 'standard'
      try {
        localStorage.setItem(KEY, quality)
      } catch {
        // storage refused (private mode): the choice holds for this call only
      }
      call.send({ type: 'ui.setVideoQuality', quality })
    },
  ]
}
