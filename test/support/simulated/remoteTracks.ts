/**
 * What a remote description does to the receivers (webrtc-pc "process the
 * addition / removal of a remote track"): the remote streams, `track`
 * events, and receivers' tracks muted when the remote stops sending.
 */
import { SimulatedMediaStream } from './media'
import type { SimulatedPeerConnection } from './peerConnection'
import type { SimulatedRtpTransceiver } from './rtp'
import { direction, receives, sends, type Direction, type MediaSection } from './sdp'

/** Sets `t.currentDirection` from a negotiated `dir`; a receiver no longer receiving is gone. */
export function setCurrentDirection(pc: SimulatedPeerConnection, t: SimulatedRtpTransceiver, dir: Direction): void {
  t.currentDirection = dir
  if (sends(dir)) t.everSent = true
  if (!receives(dir) && receives(t.firedDirection)) {
    t.firedDirection = dir
    receiverGone(pc, t)
  }
}

/** Updates remote streams; true when the remote starts sending on `t`. */
export function processRemoteDirection(pc: SimulatedPeerConnection, t: SimulatedRtpTransceiver, section: MediaSection): boolean {
  const remoteSends = sends(section.direction)
  const streamIds = remoteSends ? section.msids.map((m) => m.stream).filter((s) => s !== '-') : t.remoteStreamIds
  if (remoteSends) setRemoteStreams(pc, t, [...new Set(streamIds)])
  const wasReceiving = receives(t.firedDirection)
  // Our view of the direction: the remote's reversed.
  const nowReceiving = remoteSends && receives(t.wanted)
  t.firedDirection = direction(sends(t.firedDirection), nowReceiving)
  if (nowReceiving && !wasReceiving) return true
  if (!nowReceiving && wasReceiving) receiverGone(pc, t)
  return false
}

/** Fires `track` for each transceiver whose remote started sending. */
export function fireTracks(pc: SimulatedPeerConnection, started: SimulatedRtpTransceiver[]): void {
  for (const t of started) {
    const track = t.receiver.track
    const streams = t.remoteStreamIds.map((id) => remoteStream(pc, id))
    for (const stream of streams) stream.uaAddTrack(track)
    track.setMuted(false)
    if (pc.closed) return
    pc.fire('track', { track, streams, receiver: t.receiver, transceiver: t })
  }
}

/** The remote stopped sending on `t`: mute its track and take it out of the streams. */
export function receiverGone(pc: SimulatedPeerConnection, t: SimulatedRtpTransceiver): void {
  const track = t.receiver.track
  for (const id of t.remoteStreamIds) pc.remoteStreams.get(id)?.uaRemoveTrack(track)
  track.setMuted(true)
  if (t.stopping) track.readyState = 'ended'
}

function setRemoteStreams(pc: SimulatedPeerConnection, t: SimulatedRtpTransceiver, ids: string[]): void {
  const track = t.receiver.track
  for (const old of t.remoteStreamIds) {
    if (!ids.includes(old)) pc.remoteStreams.get(old)?.uaRemoveTrack(track)
  }
  t.remoteStreamIds = ids
  if (receives(t.firedDirection)) for (const id of ids) remoteStream(pc, id).uaAddTrack(track)
}

function remoteStream(pc: SimulatedPeerConnection, id: string): SimulatedMediaStream {
  let stream = pc.remoteStreams.get(id)
  if (!stream) {
    stream = new SimulatedMediaStream(pc.net, [], id)
    pc.remoteStreams.set(id, stream)
  }
  return stream
}
