import { DEFAULT_UPLINK_BPS } from './encoding'
import type { CaptureConstraints } from './mediaMachine'

/**
 * How much video a participant captures and sends. `low` is the
 * low-bandwidth setting: a small, slow camera and a small uplink budget,
 * for a weak connection or a slow machine (and for tests, where several
 * participants share one machine's CPU).
 */
export type VideoQuality = 'standard' | 'low'

export const VIDEO_QUALITIES: readonly VideoQuality[] = ['standard', 'low']

/**
 * The capture constraints for each quality. `standard` asks for what most
 * cameras give by default, 640×480 at 30 fps, and for screens the usual 30
 * fps. Explicit, not absent: a live track switched back from `low` keeps its
 * small size when its constraints are merely lifted (Chromium does).
 */
export const CAPTURE_CONSTRAINTS: Record<VideoQuality, CaptureConstraints> = {
  standard: {
    camera: { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 30 } },
    screen: { frameRate: { ideal: 30 } },
  },
  low: {
    // `ideal`, not `exact`: a camera that cannot go this small still opens.
    camera: { width: { ideal: 320 }, height: { ideal: 180 }, frameRate: { ideal: 15, max: 15 } },
    // Shared screens are mostly still text: a few frames a second keep it legible.
    screen: { frameRate: { ideal: 5, max: 5 } },
  },
}

/** The whole uplink each quality spends on video and audio, shared by the peers. */
export const UPLINK_BPS: Record<VideoQuality, number> = {
  standard: DEFAULT_UPLINK_BPS,
  low: 600_000,
}

export function isVideoQuality(value: unknown): value is VideoQuality {
  return value === 'standard' || value === 'low'
}
