/**
 * Making a connection for the pair: the RTCPeerConnection with its data
 * channel and senders ({@link createLink}), and the session that numbers its
 * signaling ({@link createSignaling}).
 */
import { CHANNEL_ID, CHANNEL_LABEL, type ChannelMessage } from '../../protocol/channel'
import type { LocalTracks } from '../localTracks'
import { addLocalTracks, iceUfrags } from '../peerMedia'
import type { PeerConnectionLike, WebRTCImpl } from '../webrtc'
import type { Link, PeerContext, Signaling } from './types'

let lastSession = 0
/** Session numbers grow across reloads (they are clock-based), so a newer connection is recognisable. */
function nextSession(): number {
  lastSession = Math.max(Date.now(), lastSession + 1)
  return lastSession
}

/** The same on both sides: the peer with the smaller id is polite. */
export function isPolite(selfId: string, peerId: string): boolean {
  return selfId < peerId
}

/** A new RTCPeerConnection for the pair, sending the local tracks. */
export function createLink(input: { webrtc: WebRTCImpl; iceServers: RTCIceServer[]; relayOnly: boolean; localTracks: LocalTracks }): Link {
  // max-bundle: one transport for audio, video and data, so candidates are
  // gathered once rather than per media section: a third of the signaling.
  const pc = new input.webrtc.RTCPeerConnection({
    iceServers: input.iceServers,
    bundlePolicy: 'max-bundle',
    iceTransportPolicy: input.relayOnly ? 'relay' : 'all',
  })
  // One negotiated channel per pair: both sides create it with the same id,
  // so neither waits for the other's datachannel event.
  const channel = pc.createDataChannel(CHANNEL_LABEL, { negotiated: true, id: CHANNEL_ID })
  return {
    pc,
    channel,
    senders: addLocalTracks(pc, input.localTracks),
    remoteStream: new input.webrtc.MediaStream(),
    remoteScreen: new input.webrtc.MediaStream(),
    remoteScreenMid: null,
    trackStreams: {},
    remoteTracks: { audio: false, video: false, screen: false },
    ignoreOffer: false,
    negotiationDeferred: false,
    answering: undefined,
    tookDescription: false,
    lastAnswer: null,
    connectionState: pc.connectionState,
    signalingState: pc.signalingState,
    restarts: 0,
    restartFrom: null,
    negotiationPending: false,
    generation: null,
    failure: null,
  }
}

/** A new session: a newer number than any before it, and its messages numbered from the start. */
export function createSignaling(): Signaling {
  return { session: nextSession(), offerSeq: 0, sentSeq: 0, remoteSeq: 0, remoteOfferSeq: 0, pendingCandidates: [] }
}

/** The ICE ufrags of the remote descriptions applied (current and pending). */
export function remoteUfrags(pc: PeerConnectionLike): string[] {
  return [...iceUfrags(pc.currentRemoteDescription?.sdp), ...iceUfrags(pc.pendingRemoteDescription?.sdp)]
}

/**
 * Sends on the data channel if it is open. The channel can close between the
 * machine's last `channel.close` and this send (the close event is queued),
 * and RTCDataChannel.send() throws then; a lost app message is not an error.
 */
export function sendOnChannel(context: PeerContext, message: ChannelMessage): boolean {
  const { channel } = context.link
  if (channel.readyState !== 'open') return false
  try {
    channel.send(JSON.stringify(message))
    return true
  } catch (error) {
    context.log.debug('data-channel send failed', { error: String(error) })
    return false
  }
}
