/**
 * A pair's safety code: a short number both participants can read to each
 * other to check that nobody sits in the middle of their connection.
 *
 * DTLS-SRTP encrypts every pair end to end, with keys bound to the DTLS
 * certificates whose fingerprints the two descriptions carry. The one attack
 * left to whoever relays the signaling is to swap those fingerprints and
 * answer each side with a connection of its own, forwarding the media
 * between them. Each side then sees the fingerprint of the relay's
 * certificate instead of the other participant's, so the code computed
 * from the fingerprints it negotiated differs on the two sides.
 *
 * The code hashes both fingerprints (sorted, so that the two sides agree on
 * the order) with the room id: SHA-256, read as 20 digits in four groups.
 *
 * @example
 * ```ts
 * const code = await safetyCode('room-1', pc.currentLocalDescription?.sdp, pc.currentRemoteDescription?.sdp)
 * // '04217 88310 59624 11873', the same on the other side of an honest pair
 * ```
 */

import type { PeerConnectionLike } from './webrtc'

/** Version tag hashed in first, so that a later scheme can never produce the same codes. */
const SCHEME = 'meshcall safety code v1'
const DIGITS = 20
const GROUP = 5

/**
 * The DTLS certificate fingerprints a description declares
 * (`a=fingerprint:<hash> <hex>`, at session or media level), normalised and
 * sorted, without repeats.
 */
export function dtlsFingerprints(sdp: string | null | undefined): string[] {
  if (!sdp) return []
  const found = new Set<string>()
  for (const [, hash, value] of sdp.matchAll(/^a=fingerprint:(\S+) ([0-9A-Fa-f:]+)\s*$/gm)) {
    found.add(`${hash.toLowerCase()} ${value.toUpperCase()}`)
  }
  return [...found].sort()
}

/**
 * The pair's safety code from the two negotiated descriptions, or null
 * while either has no fingerprint (nothing negotiated yet).
 */
export async function safetyCode(
  room: string,
  localSdp: string | null | undefined,
  remoteSdp: string | null | undefined,
): Promise<string | null> {
  const local = dtlsFingerprints(localSdp).join(',')
  const remote = dtlsFingerprints(remoteSdp).join(',')
  if (!local || !remote) return null
  const input = [SCHEME, room, ...[local, remote].sort()].join('\n')
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(input)))
  // 72 bits reduced to 20 digits: 2^72 is 47.2 times 10^20, so no code is more than 2.2 % likelier than another.
  let value = 0n
  for (const byte of digest.subarray(0, 9)) value = (value << 8n) | BigInt(byte)
  const digits = (value % 10n ** BigInt(DIGITS)).toString().padStart(DIGITS, '0')
  return digits.match(new RegExp(`.{${GROUP}}`, 'g'))?.join(' ') ?? digits
}

/** The safety code of a connection as negotiated now (its current descriptions). */
export function pairSafetyCode(
  room: string,
  pc: Pick<PeerConnectionLike, 'currentLocalDescription' | 'currentRemoteDescription'>,
): Promise<string | null> {
  try {
    return safetyCode(room, pc.currentLocalDescription?.sdp, pc.currentRemoteDescription?.sdp)
  } catch {
    // Firefox throws on reading a closed connection's descriptions.
    return Promise.resolve(null)
  }
}
