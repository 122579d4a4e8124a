/**
 * Track bookkeeping for one peer connection: which local tracks it sends,
 * and which remote tracks it receives into the peer's streams.
 */
import type { LocalTracks } from './localTracks'
import type { MediaStreamLike, MediaStreamTrackLike, PeerConnectionLike, RtpSenderLike } from './webrtc'

export type Senders = { audio: RtpSenderLike | null; video: RtpSenderLike | null; screen: RtpSenderLike | null }
export type SenderKind = keyof Senders

export const NO_SENDERS: Senders = { audio: null, video: null, screen: null }

/** A track change that needs no renegotiation: `replaceTrack` on an existing sender. */
export type Replacement = { sender: RtpSenderLike; track: MediaStreamTrackLike | null }

/** Adds the local tracks to a new connection, once each. */
export function addLocalTracks(pc: PeerConnectionLike, tracks: LocalTracks): Senders {
  return syncSenders(pc, NO_SENDERS, tracks).senders
}

/**
 * Brings the senders in line with the local tracks. A kind that gains its
 * first track is added (which renegotiates through `negotiationneeded`); a
 * camera or microphone that is switched or lost is replaced in place, with
 * no renegotiation; a screen share that ends is removed, so the remote side
 * sees its track go.
 */
export function syncSenders(
  pc: PeerConnectionLike,
  senders: Senders,
  tracks: LocalTracks,
): { senders: Senders; replacements: Replacement[] } {
  const next: Senders = { ...senders }
  const replacements: Replacement[] = []
  const wanted: Record<SenderKind, { track: MediaStreamTrackLike | null; stream: MediaStreamLike | null }> = {
    audio: { track: tracks.audio, stream: tracks.stream },
    video: { track: tracks.video, stream: tracks.stream },
    screen: { track: tracks.screen, stream: tracks.screenStream },
  }
  for (const kind of ['audio', 'video', 'screen'] as const) {
    const { track, stream } = wanted[kind]
    const sender = senders[kind]
    if (!sender) {
      if (track) next[kind] = stream ? pc.addTrack(track, stream) : pc.addTrack(track)
    } else if (kind === 'screen' && !track) {
      pc.removeTrack(sender)
      next.screen = null
    } else if (sender.track !== track) {
      replacements.push({ sender, track })
    }
  }
  return { senders: next, replacements }
}

/** What the peer is receiving, for the UI. */
export type RemoteTracks = { audio: boolean; video: boolean; screen: boolean }

/**
 * Puts each received track into the peer's camera/microphone stream or its
 * screen stream, and takes out tracks the remote no longer sends. A track is
 * the screen when its transceiver's mid is the one the remote named as its
 * screen's. Not by stream: a transceiver that never sent can be reused by
 * `addTrack` for another stream (a screen share stopped before its offer
 * was answered, then the camera), no track event announces the move, and
 * libwebrtc keeps the old stream in its SDP.
 */
export function syncRemoteTracks(
  pc: PeerConnectionLike,
  streams: { main: MediaStreamLike; screen: MediaStreamLike },
  trackStreams: Record<string, string | null>,
  remoteScreenMid: string | null,
): RemoteTracks {
  for (const transceiver of pc.getTransceivers()) {
    const track = transceiver.receiver.track
    // currentDirection is null until the first exchange completes; a track
    // event before that means the remote is sending.
    const direction = transceiver.currentDirection
    const receiving = direction === null || direction === 'sendrecv' || direction === 'recvonly'
    const isScreen = remoteScreenMid !== null && transceiver.mid === remoteScreenMid
    const into = isScreen ? streams.screen : streams.main
    const other = isScreen ? streams.main : streams.screen
    if (other.getTrackById(track.id)) other.removeTrack(track)
    const known = track.id in trackStreams
    if (receiving && known && track.readyState !== 'ended') {
      if (!into.getTrackById(track.id)) into.addTrack(track)
    } else if (into.getTrackById(track.id)) {
      into.removeTrack(track)
    }
  }
  return {
    audio: streams.main.getAudioTracks().length > 0,
    video: streams.main.getVideoTracks().length > 0,
    screen: streams.screen.getVideoTracks().length > 0,
  }
}

/** The ICE username fragments of a description (one per media section, usually all equal). */
export function iceUfrags(sdp: string | undefined): string[] {
  if (!sdp) return []
  return [...sdp.matchAll(/^a=ice-ufrag:(\S+)/gm)].map((m) => m[1])
}
