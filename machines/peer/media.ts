/**
 * What the pair carries: the local tracks it sends (with sender parameters
 * sized to the mesh), the remote tracks it receives, and the data channel
 * (chat and app messages, and a ping for its round-trip time).
 */
import { assertEvent, enqueueActions } from 'xstate'
import { parseChannelMessage } from '../../protocol/channel'
import type { LinkState } from '../../protocol/messages'
import { videoEncodingFor } from '../encoding'
import { syncRemoteTracks, syncSenders } from '../peerMedia'
import { sendOnChannel } from './connection'
import { peerSetup, type Link, type PeerContext, type PeerEvent, type PeerOutputEvent } from './types'

/** The remote tracks as the connection's transceivers now say. */
function remoteTracksOf(link: Link, trackStreams: Link['trackStreams']) {
  return syncRemoteTracks(link.pc, { main: link.remoteStream, screen: link.remoteScreen }, trackStreams, link.remoteScreenMid)
}

export const mediaGuards = {
  changesWantVideo: ({ context, event }: { context: PeerContext; event: PeerEvent }) =>
    event.type === 'ui.wantVideo' && event.want !== context.wantVideo,
  isRelayed: ({ event }: { event: PeerEvent }) => event.type === 'task.route' && event.relayed === true,
}

export const mediaActions = {
  receiveTrack: peerSetup.assign(({ context, event }) => {
    assertEvent(event, 'pc.track')
    const trackStreams = { ...context.link.trackStreams, [event.track.id]: event.streamId }
    return { link: { ...context.link, trackStreams, remoteTracks: remoteTracksOf(context.link, trackStreams) } }
  }),
  syncRemoteTracks: peerSetup.assign(({ context }) => ({
    link: { ...context.link, remoteTracks: remoteTracksOf(context.link, context.link.trackStreams) },
  })),
  updateLocalTracks: peerSetup.enqueueActions(({ context, event, enqueue }) => {
    assertEvent(event, 'media.tracks')
    const { senders, replacements } = syncSenders(context.link.pc, context.link.senders, event.tracks)
    for (const { sender, track } of replacements) enqueue.sendTo('tasks', { type: 'task.replaceTrack', sender, track })
    enqueue.assign({ link: { ...context.link, senders }, localTracks: event.tracks })
  }),
  updateMeshSize: peerSetup.assign(({ event }) => {
    assertEvent(event, 'room.meshSize')
    return { meshSize: event.size }
  }),
  updateUplink: peerSetup.assign(({ event }) => {
    assertEvent(event, 'room.uplink')
    return { uplinkBps: event.bps }
  }),
  applyEncoding: peerSetup.enqueueActions(({ context, enqueue }) => {
    const { senders } = context.link
    const sized = videoEncodingFor(context.meshSize, context.uplinkBps, senders.screen !== null)
    // The remote does not want our camera: that copy is not encoded at all.
    const target = { ...sized, camera: { ...sized.camera, active: context.remoteWantsVideo } }
    enqueue.assign({ encoding: { ...context.encoding, ...target } })
    if (senders.video) enqueue.sendTo('tasks', { type: 'task.encode', sender: senders.video, encoding: target.camera })
    if (senders.screen && target.screen) enqueue.sendTo('tasks', { type: 'task.encode', sender: senders.screen, encoding: target.screen })
  }),
  /** We do (not) want the remote's camera video: tell it, so its encoder stops (or starts) for us. */
  setWantVideo: peerSetup.enqueueActions(({ context, event, enqueue }) => {
    assertEvent(event, 'ui.wantVideo')
    context.log.info(event.want ? 'asking for video again' : 'asking not to be sent video')
    enqueue.assign({ wantVideo: event.want })
    sendOnChannel(context, { type: 'video', want: event.want })
  }),
  tellWantVideo: peerSetup.createAction(({ context }) => {
    if (!context.wantVideo) sendOnChannel(context, { type: 'video', want: false })
  }),
  setRemoteWantsVideo: peerSetup.assign(({ event }) => {
    assertEvent(event, 'remote.wantsVideo')
    return { remoteWantsVideo: event.want }
  }),
  /** Asks the stats whether the pair, just connected, goes through the TURN server (`task.route`). */
  readRoute: peerSetup.sendTo('tasks', { type: 'task.readRoute' }),
  /** Tells the room how the pair is doing (the room shares it in its presence, and drops repeats). */
  reportLink: enqueueActions<PeerContext, PeerEvent, LinkState, PeerEvent, never, never, never, never, never>(
    ({ context, enqueue }, state) => {
      const reason = context.link.failure?.reason
      enqueue.sendParent({
        type: 'peer.link',
        peerId: context.peerId,
        // A pair that knows why it cannot connect has failed, whatever its retries still try.
        link: reason ? { state: 'failed', reason } : { state },
      } satisfies PeerOutputEvent)
    },
  ),
  recordEncoded: peerSetup.assign(({ context }) => ({ encoding: { ...context.encoding, applied: true, error: null } })),
  sendOnChannel: peerSetup.createAction(({ context, event }) => {
    assertEvent(event, 'channel.send')
    sendOnChannel(context, event.message)
  }),
  receiveOnChannel: peerSetup.enqueueActions(({ context, event, enqueue }) => {
    assertEvent(event, 'channel.message')
    const message = parseChannelMessage(event.data)
    if (!message) {
      context.log.warn('invalid data-channel message dropped')
      return
    }
    if (message.type === 'ping') {
      sendOnChannel(context, { type: 'pong', t: message.t })
    } else if (message.type === 'video') {
      enqueue.raise({ type: 'remote.wantsVideo', want: message.want })
    } else if (message.type === 'pong') {
      // The heartbeat's pong comes every second: keep a change worth showing,
      // not every millisecond of jitter (each change is a state in the timeline).
      const rtt = Math.max(0, Date.now() - message.t)
      const last = context.channelRtt
      if (last === null || Math.abs(rtt - last) >= Math.max(5, last * 0.2)) enqueue.assign({ channelRtt: rtt })
    } else {
      enqueue.sendParent({ type: 'peer.message', peerId: context.peerId, message } satisfies PeerOutputEvent)
    }
  }),
  /** Tells the room the channel went silent, so that it checks its own socket now. */
  tellSilent: peerSetup.enqueueActions(({ context, enqueue }) => {
    enqueue.sendParent({ type: 'peer.silent', peerId: context.peerId } satisfies PeerOutputEvent)
  }),
  ping: peerSetup.createAction(({ context }) => {
    sendOnChannel(context, { type: 'ping', t: Date.now() })
  }),
}
