/**
 * Creating offers and answers (JSEP §5.2 and §5.3, in the simulated
 * dialect): which m-lines, in which order, with which directions, msids and
 * ICE credentials.
 */
import type { SimulatedPeerConnection } from './peerConnection'
import type { SimulatedRtpTransceiver } from './rtp'
import { intersect, sends, writeSdp, type Direction, type MediaSection } from './sdp'

/** The SDP of a new offer from `pc`. */
export function writeOffer(pc: SimulatedPeerConnection): string {
  const base = pc.currentLocalDescription?.parsed.sections ?? []
  const taken = new Set<string>([
    ...pc.transceivers.flatMap((t) => (t.mid ? [t.mid] : [])),
    ...[pc.currentLocalDescription, pc.currentRemoteDescription, pc.pendingRemoteDescription].flatMap((d) =>
      d ? d.parsed.sections.map((s) => s.mid) : [],
    ),
  ])
  if (pc.dataMid) taken.add(pc.dataMid)
  const sections: MediaSection[] = []
  const placed = new Set<SimulatedRtpTransceiver>()
  let dataPlaced = false
  for (const old of base) {
    if (old.kind === 'application') {
      sections.push({ ...old, msids: [] })
      dataPlaced = true
      continue
    }
    const t = pc.transceivers.find((x) => x.mid === old.mid)
    if (!t || t.stopping) {
      sections.push({ mid: old.mid, kind: old.kind, direction: 'inactive', rejected: true, msids: [] })
      continue
    }
    placed.add(t)
    sections.push({ mid: old.mid, kind: t.kind, direction: t.wanted, rejected: false, msids: msidsOf(t, t.wanted) })
  }
  type Fresh = { created: number; section: () => MediaSection }
  const fresh: Fresh[] = []
  for (const t of pc.transceivers) {
    if (placed.has(t) || t.stopping) continue
    fresh.push({
      created: t.created,
      section: () => ({ mid: t.mid ?? nextMid(taken), kind: t.kind, direction: t.wanted, rejected: false, msids: msidsOf(t, t.wanted) }),
    })
  }
  if (!dataPlaced && pc.dataCreated !== null) {
    fresh.push({
      created: pc.dataCreated,
      section: () => ({ mid: pc.dataMid ?? nextMid(taken), kind: 'application', direction: 'sendrecv', rejected: false, msids: [] }),
    })
  }
  fresh.sort((a, b) => a.created - b.created)
  for (const f of fresh) sections.push(f.section())
  const creds = pc.credentials.forOffer(pc.currentLocalDescription?.parsed)
  return writeSdp({
    session: pc.id,
    version: pc.nextVersion(),
    ufrag: creds.ufrag,
    pwd: creds.pwd,
    fingerprint: pc.fingerprint,
    setup: 'actpass',
    sections,
  })
}

/** The SDP of an answer from `pc` to its pending remote offer. */
export function writeAnswer(pc: SimulatedPeerConnection): string {
  const offer = pc.pendingRemoteDescription
  if (!offer) throw new DOMException('createAnswer without a remote offer', 'InvalidStateError')
  const sections: MediaSection[] = offer.parsed.sections.map((remote) => {
    if (remote.kind === 'application')
      return { mid: remote.mid, kind: 'application', direction: 'sendrecv', rejected: remote.rejected, msids: [] }
    const t = pc.transceivers.find((x) => x.mid === remote.mid)
    if (!t || t.stopping || remote.rejected) return { mid: remote.mid, kind: remote.kind, direction: 'inactive', rejected: true, msids: [] }
    const dir = intersect(t.wanted, remote.direction)
    return { mid: remote.mid, kind: t.kind, direction: dir, rejected: false, msids: msidsOf(t, dir) }
  })
  const creds = pc.credentials.forAnswer(offer.parsed, pc.currentRemoteDescription?.parsed, pc.currentLocalDescription?.parsed)
  return writeSdp({
    session: pc.id,
    version: pc.nextVersion(),
    ufrag: creds.ufrag,
    pwd: creds.pwd,
    fingerprint: pc.fingerprint,
    setup: 'active',
    sections,
  })
}

/** The lowest mid not yet taken, which it then takes. */
function nextMid(taken: Set<string>): string {
  let n = 0
  while (taken.has(String(n))) n++
  taken.add(String(n))
  return String(n)
}

function msidsOf(t: SimulatedRtpTransceiver, dir: Direction): MediaSection['msids'] {
  if (!sends(dir)) return []
  const ids = t.sender.streamIds.length > 0 ? t.sender.streamIds : ['-']
  return ids.map((stream) => ({ stream, track: t.sender.msidTrackId }))
}
