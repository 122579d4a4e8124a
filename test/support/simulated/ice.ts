/**
 * The simulated ICE transport: one host candidate per ICE generation,
 * gathered when a local description is set, and connectivity between two
 * connections that know each other's credentials and candidates and are
 * not partitioned.
 */
import { SimulatedIceCandidate } from './iceCandidate'
import type { SimulatedPeerConnection } from './peerConnection'

/** What a connection's ICE agent remembers. */
export type IceState = {
  /** ufrags of the remote candidates received. */
  receivedUfrags: Set<string>
  /** Local ufrags for which candidates were gathered. */
  gathered: Set<string>
  /** The local ufrag in use when ICE failed; only a new generation recovers. */
  failedUfrag: string | null
}

/** The state of an ICE agent that has done nothing yet. */
export function newIceState(): IceState {
  return { receivedUfrags: new Set(), gathered: new Set(), failedUfrag: null }
}

/** Gathers the candidate of the local description's ICE generation, once per generation. */
export function gatherIfReady(pc: SimulatedPeerConnection): void {
  // Gathering starts with the local description, as in browsers: the
  // candidates of an offer trickle out before its answer comes.
  const local = pc.localDescription
  if (!local || pc.closed) return
  const ufrag = local.parsed.ufrag
  if (pc.ice.gathered.has(ufrag)) return
  pc.ice.gathered.add(ufrag)
  pc.net.queueTask(() => {
    if (pc.closed || pc.localDescription?.parsed.ufrag !== ufrag) {
      pc.ice.gathered.delete(ufrag)
      return
    }
    const first = pc.localDescription.parsed.sections[0]
    setGatheringState(pc, 'gathering')
    const candidate = new SimulatedIceCandidate({
      candidate: `candidate:1 1 udp 2122260223 192.0.2.${pc.id.slice(2)} 9 typ host generation 0 ufrag ${ufrag} network-id 1`,
      sdpMid: first?.mid ?? '0',
      sdpMLineIndex: 0,
      usernameFragment: ufrag,
    })
    pc.fire('icecandidate', { candidate })
    if (pc.closed) return
    setGatheringState(pc, 'complete')
    pc.fire('icecandidate', { candidate: null })
    pc.net.scheduleCheck()
  })
}

function setGatheringState(pc: SimulatedPeerConnection, state: RTCIceGatheringState): void {
  if (pc.iceGatheringState === state) return
  pc.iceGatheringState = state
  pc.fire('icegatheringstatechange')
}

/** One connectivity check: moves `pc`'s ICE state on as far as what it has allows. */
export function checkConnectivity(pc: SimulatedPeerConnection): void {
  if (pc.closed) return
  const hasBoth = pc.localDescription !== null && pc.remoteDescription !== null
  const state = pc.iceConnectionState
  const ufrag = pc.localDescription?.parsed.ufrag ?? null
  if (state === 'new' && hasBoth) {
    pc.setIceState('checking')
    return
  }
  if (state === 'failed') {
    if (hasBoth && ufrag !== pc.ice.failedUfrag) pc.setIceState('checking')
    return
  }
  if (state === 'connected') return
  const peer = pc.counterpart()
  if (peer && canReach(pc, peer) && (state === 'checking' || state === 'disconnected')) pc.setIceState('connected')
}

/** Whether `pc` and `peer` have what ICE needs to connect. */
function canReach(pc: SimulatedPeerConnection, peer: SimulatedPeerConnection): boolean {
  const local = pc.localDescription?.parsed
  const remote = pc.remoteDescription?.parsed
  const peerLocal = peer.localDescription?.parsed
  const peerRemote = peer.remoteDescription?.parsed
  if (!local || !remote || !peerLocal || !peerRemote || peer.closed) return false
  if (remote.fingerprint !== peer.fingerprint || peerRemote.fingerprint !== pc.fingerprint) return false
  if (remote.ufrag !== peerLocal.ufrag || peerRemote.ufrag !== local.ufrag) return false
  if (!pc.ice.receivedUfrags.has(peerLocal.ufrag) || !peer.ice.receivedUfrags.has(local.ufrag)) return false
  return !pc.net.isPartitioned(pc.label, peer.label)
}
