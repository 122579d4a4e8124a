import { isVideoQuality, type VideoQuality } from '../../../machines/videoQuality'

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
