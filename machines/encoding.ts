/**
 * Video sender parameters for one peer connection; \`active: false\` stops
 * encoding that copy (the peer does not want it).
 */
export type VideoEncoding = { maxBitrate: number; scaleResolutionDownBy: number; active?: boolean }

/** Total uplink a participant spends on video and audio, shared by its peers. */
export const DEFAULT_UPLINK_BPS = 2_500_000
const AUDIO_BPS = 48_000
const FLOOR_BPS = 100_000

/**
 * Sender parameters for a mesh of `meshSize` participants. A sender uploads
 * one copy of each track per peer, so the uplink budget is split among the
 * peers, and the resolution drops as each copy's share shrinks. While a
 * screen is shared it takes two thirds of each copy's video share.
 *
 * @example
 * videoEncodingFor(4, 2_500_000) // { camera: { maxBitrate: 785333, scaleResolutionDownBy: 1.5 }, screen: null }
 */
export function videoEncodingFor(
  meshSize: number,
  uplinkBps = DEFAULT_UPLINK_BPS,
  sharingScreen = false,
): { camera: VideoEncoding; screen: VideoEncoding | null } {
  const peers = Math.max(1, meshSize - 1)
  const perPeer = Math.max(FLOOR_BPS, Math.floor(uplinkBps / peers) - AUDIO_BPS)
  if (!sharingScreen) return { camera: { maxBitrate: perPeer, scaleResolutionDownBy: scaleFor(perPeer) }, screen: null }
  const screenBps = Math.floor((perPeer * 2) / 3)
  const cameraBps = Math.max(FLOOR_BPS, perPeer - screenBps)
  return {
    camera: { maxBitrate: cameraBps, scaleResolutionDownBy: Math.max(2, scaleFor(cameraBps)) },
    // Screen content keeps its resolution: text stays legible at a lower frame rate.
    screen: { maxBitrate: screenBps, scaleResolutionDownBy: 1 },
  }
}

function scaleFor(bps: number): number {
  if (bps >= 1_000_000) return 1
  if (bps >= 500_000) return 1.5
  if (bps >= 250_000) return 2
  return 4
}
