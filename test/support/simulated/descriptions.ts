/**
 * Applying descriptions (webrtc-pc "set the RTCSessionDescription"): what
 * each of a local or remote offer or answer changes in the transceivers,
 * the data section and the signaling state, and rollback, which undoes a
 * pending offer.
 */
import type { SimulatedPeerConnection } from './peerConnection'
import { fireTracks, processRemoteDirection, receiverGone, setCurrentDirection } from './remoteTracks'
import type { SimulatedRtpTransceiver } from './rtp'
import { parseSdp, receives, reverse, SimSessionDescription, type Direction, type ParsedSdp } from './sdp'

/** What an applied pending description changed, so rollback can undo it. */
export type Undo = {
  /** Transceivers this description associated with a mid. */
  associated: SimulatedRtpTransceiver[]
  /** Transceivers this (remote) description created. */
  createdTransceivers: SimulatedRtpTransceiver[]
  /** firedDirection and remote streams before a remote offer. */
  fired: Map<SimulatedRtpTransceiver, { direction: Direction; streams: string[] }>
  dataMid: string | null
}

/** The undo record of a pending description in `state`: the one so far if already there. */
function undoFor(pc: SimulatedPeerConnection, state: RTCSignalingState): Undo {
  return pc.undo && pc.signalingState === state
    ? pc.undo
    : { associated: [], createdTransceivers: [], fired: new Map(), dataMid: pc.dataMid }
}

/** setLocalDescription(offer): new m-lines take their transceivers, and gathering starts. */
export function applyLocalOffer(pc: SimulatedPeerConnection, sdp: string): void {
  const description = new SimSessionDescription('offer', sdp, parseSdp(sdp))
  const undo = undoFor(pc, 'have-local-offer')
  // Associate new m-lines with transceivers in creation order, by kind.
  for (const section of description.parsed.sections) {
    if (section.kind === 'application') {
      pc.dataMid = section.mid
      continue
    }
    if (pc.transceivers.some((t) => t.mid === section.mid)) continue
    const t = pc.transceivers.find((x) => x.mid === null && !x.stopping && x.kind === section.kind)
    if (t) {
      t.mid = section.mid
      undo.associated.push(t)
    }
  }
  pc.undo = undo
  pc.pendingLocalDescription = description
  pc.setSignalingState('have-local-offer')
  pc.gatherIfReady()
}

/** setLocalDescription(answer): the exchange ends, directions become current. */
export function applyLocalAnswer(pc: SimulatedPeerConnection, sdp: string): void {
  const description = new SimSessionDescription('answer', sdp, parseSdp(sdp))
  pc.currentLocalDescription = description
  pc.currentRemoteDescription = pc.pendingRemoteDescription
  pc.pendingLocalDescription = null
  pc.pendingRemoteDescription = null
  pc.undo = null
  for (const section of description.parsed.sections) {
    if (section.kind === 'application') {
      pc.dataMid = section.rejected ? null : section.mid
      continue
    }
    const t = pc.transceivers.find((x) => x.mid === section.mid)
    if (!t) continue
    if (section.rejected) {
      t.stopping = true
      t.currentDirection = 'stopped'
      receiverGone(pc, t)
      continue
    }
    setCurrentDirection(pc, t, section.direction)
  }
  pc.restartApplied()
  pc.setSignalingState('stable')
  pc.returnedToStable()
  pc.gatherIfReady()
  pc.net.scheduleCheck()
}

/**
 * Like libwebrtc: a description must keep every media section negotiated
 * before at its index, with its mid and kind (one rejected before may be
 * reused).
 */
export function assertSameMLines(pc: SimulatedPeerConnection, parsed: ParsedSdp): void {
  const before = (pc.currentRemoteDescription ?? pc.currentLocalDescription)?.parsed.sections ?? []
  for (const [index, old] of before.entries()) {
    if (old.rejected) continue
    const now = parsed.sections[index]
    if (!now || now.mid !== old.mid || now.kind !== old.kind) {
      throw new DOMException(
        "Failed to set remote description: The order of m-lines in subsequent offer doesn't match order from previous offer/answer.",
        'InvalidAccessError',
      )
    }
  }
}

/** setRemoteDescription(offer): m-lines find or create transceivers, and remote tracks start. */
export function applyRemoteOffer(pc: SimulatedPeerConnection, description: SimSessionDescription): void {
  const undo = undoFor(pc, 'have-remote-offer')
  const started: SimulatedRtpTransceiver[] = []
  for (const section of description.parsed.sections) {
    if (section.kind === 'application') {
      if (!section.rejected) pc.dataMid = section.mid
      continue
    }
    let t = pc.transceivers.find((x) => x.mid === section.mid)
    if (!t && section.rejected) continue
    if (!t) {
      t = pc.transceivers.find((x) => x.mid === null && !x.stopping && x.kind === section.kind && x.createdBy === 'addTrack')
      if (t) {
        t.mid = section.mid
        undo.associated.push(t)
      }
    }
    if (!t) {
      t = pc.newTransceiver(section.kind, 'recvonly', null, [], 'remote')
      t.mid = section.mid
      undo.createdTransceivers.push(t)
    }
    if (section.rejected) {
      t.stopping = true
      receiverGone(pc, t)
      continue
    }
    if (!undo.fired.has(t)) undo.fired.set(t, { direction: t.firedDirection, streams: t.remoteStreamIds })
    if (processRemoteDirection(pc, t, section)) started.push(t)
  }
  pc.undo = undo
  pc.pendingRemoteDescription = description
  pc.setSignalingState('have-remote-offer')
  fireTracks(pc, started)
}

/** setRemoteDescription(answer): the exchange ends, directions become current, remote tracks start. */
export function applyRemoteAnswer(pc: SimulatedPeerConnection, description: SimSessionDescription): void {
  const started: SimulatedRtpTransceiver[] = []
  pc.currentRemoteDescription = description
  pc.currentLocalDescription = pc.pendingLocalDescription
  pc.pendingLocalDescription = null
  pc.pendingRemoteDescription = null
  pc.undo = null
  for (const section of description.parsed.sections) {
    if (section.kind === 'application') {
      pc.dataMid = section.rejected ? null : section.mid
      continue
    }
    const t = pc.transceivers.find((x) => x.mid === section.mid)
    if (!t) continue
    if (section.rejected) {
      t.stopping = true
      t.currentDirection = 'stopped'
      receiverGone(pc, t)
      continue
    }
    setCurrentDirection(pc, t, reverse(section.direction))
    if (processRemoteDirection(pc, t, section)) started.push(t)
  }
  pc.restartApplied()
  pc.setSignalingState('stable')
  fireTracks(pc, started)
  pc.returnedToStable()
  pc.gatherIfReady()
  pc.net.scheduleCheck()
}

/** Rolls back a pending offer, local or remote (webrtc-pc "rollback"). */
export function rollback(pc: SimulatedPeerConnection): void {
  const state = pc.signalingState
  if (state !== 'have-local-offer' && state !== 'have-remote-offer') {
    throw new DOMException(`rollback in state ${state}`, 'InvalidStateError')
  }
  const undo = pc.undo
  pc.undo = null
  // A discarded ICE generation gathers afresh if it is offered again.
  const rolledBack = pc.pendingLocalDescription?.parsed.ufrag
  if (rolledBack && rolledBack !== pc.currentLocalDescription?.parsed.ufrag) pc.ice.gathered.delete(rolledBack)
  if (undo) {
    for (const t of undo.associated) t.mid = null
    for (const [t, previous] of undo.fired) {
      const wasReceiving = receives(t.firedDirection)
      t.firedDirection = previous.direction
      if (wasReceiving && !receives(previous.direction)) receiverGone(pc, t)
      t.remoteStreamIds = previous.streams
    }
    for (const t of undo.createdTransceivers) {
      if (t.sender.track !== null || t.createdBy !== 'remote' || t.wanted !== 'recvonly') {
        t.mid = null
        continue
      }
      receiverGone(pc, t)
      t.receiver.track.readyState = 'ended'
      pc.transceivers = pc.transceivers.filter((x) => x !== t)
    }
    pc.dataMid = undo.dataMid
  }
  pc.pendingLocalDescription = null
  pc.pendingRemoteDescription = null
  pc.setSignalingState('stable')
  pc.returnedToStable()
}
