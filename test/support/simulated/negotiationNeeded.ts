import type { SimulatedPeerConnection } from './peerConnection'
import { intersect, sends } from './sdp'

/** webrtc-pc "check if negotiation is needed", against the current descriptions. */
export function isNegotiationNeeded(pc: SimulatedPeerConnection): boolean {
  if (pc.credentials.restarting) return true
  const local = pc.currentLocalDescription
  const remote = pc.currentRemoteDescription
  if (pc.dataCreated !== null && !local?.parsed.sections.some((s) => s.kind === 'application' && !s.rejected)) return true
  for (const t of pc.transceivers) {
    const section = local?.parsed.sections.find((s) => s.mid === t.mid)
    if (t.stopping) {
      if (section && !section.rejected) return true
      continue
    }
    if (!local || !section || t.mid === null) return true
    const remoteSection = remote?.parsed.sections.find((s) => s.mid === t.mid)
    const expected = local.type === 'offer' ? t.wanted : intersect(t.wanted, remoteSection?.direction ?? 'inactive')
    if (section.direction !== expected) return true
    if (sends(t.wanted)) {
      const signalled = section.msids
        .map((m) => m.stream)
        .filter((s) => s !== '-')
        .sort()
        .join(' ')
      if (signalled !== [...t.sender.streamIds].sort().join(' ')) return true
    }
  }
  return false
}
