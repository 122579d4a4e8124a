import { and, not, raise, stateIn, type SnapshotFrom } from 'xstate'
import { DEFAULT_UPLINK_BPS, videoEncodingFor } from './encoding'
import { NO_TRACKS } from './localTracks'
import { candidateActions, candidateGuards } from './peer/candidates'
import { createLink, createSignaling, isPolite } from './peer/connection'
import { errorActions } from './peer/errors'
import { mediaActions, mediaGuards } from './peer/media'
import { negotiationActions, negotiationGuards, remoteDescriptionInput } from './peer/negotiation'
import { recoveryActions, recoveryDelays, recoveryGuards } from './peer/recovery'
import { sessionActions, sessionGuards } from './peer/session'
import { DEFAULT_TIMINGS, LIVENESS, NEGOTIATION, peerSetup, type PeerTag } from './peer/types'

/**
 * One remote peer: an RTCPeerConnection negotiated with webrtc-pc's perfect
 * negotiation, kept connected with ICE restarts, with a data channel and
 * sender parameters sized to the mesh.
 *
 * The negotiation region makes the example's flags explicit states:
 * `makingOffer`, `settingRemoteAnswer` (isSettingRemoteAnswerPending), and
 * the `ignoreOffer` guard and action; `./peer/negotiation.ts` maps each line
 * of the specification's example to them. The connection region carries
 * the tags the UI reads: `connecting`, `connected`, `reconnecting`, `failed`.
 *
 * Each concern's guards and actions are in `./peer/`: `session.ts` (which
 * signaling is stale), `negotiation.ts`, `candidates.ts`, `recovery.ts` (ICE
 * restarts and timers), `media.ts` (tracks, encodings, the data channel) and
 * `errors.ts`. Every one is named here, so a test can swap it with
 * `.provide()` and the inspector shows its name.
 *
 * It is spawned by the room machine, sends `peer.signal` and `peer.message`
 * to its parent, and closes its connection when stopped.
 */
export const peerMachine = peerSetup
  .extend({
    delays: recoveryDelays,
    guards: { ...sessionGuards, ...negotiationGuards, ...candidateGuards, ...recoveryGuards, ...mediaGuards },
    actions: { ...sessionActions, ...negotiationActions, ...candidateActions, ...recoveryActions, ...mediaActions, ...errorActions },
  })
  .createMachine({
    id: 'peer',
    context: ({ input }) => {
      const timings = { ...DEFAULT_TIMINGS, ...input.timings }
      const localTracks = input.localTracks ?? NO_TRACKS
      const meshSize = input.meshSize ?? 2
      const uplinkBps = input.uplinkBps ?? DEFAULT_UPLINK_BPS
      const polite = isPolite(input.selfId, input.peerId)
      return {
        selfId: input.selfId,
        peerId: input.peerId,
        polite,
        initiator: input.initiator ?? true,
        webrtc: input.webrtc,
        iceServers: input.iceServers,
        relayOnly: input.relayOnly ?? false,
        timings,
        log: input.log.child({ peerId: input.peerId, polite }),
        localTracks,
        link: createLink({ webrtc: input.webrtc, iceServers: input.iceServers, relayOnly: input.relayOnly ?? false, localTracks }),
        signaling: createSignaling(),
        remoteSession: null,
        ignoredOffers: 0,
        totalRestarts: 0,
        recoveries: [],
        recovering: null,
        meshSize,
        uplinkBps,
        encoding: { ...videoEncodingFor(meshSize, uplinkBps), applied: false, error: null },
        channelRtt: null,
        wantVideo: input.wantVideo ?? true,
        remoteWantsVideo: true,
        errors: [],
        dropped: { staleSession: 0, staleAck: 0, staleSeq: 0, staleOffer: 0, staleAnswer: 0, oldCandidate: 0, staleRestart: 0 },
      }
    },
    initial: 'active',
    states: {
      active: {
        type: 'parallel',
        invoke: [
          { id: 'connection', src: 'connectionEvents', input: ({ context }) => ({ pc: context.link.pc, channel: context.link.channel }) },
          { id: 'tasks', src: 'connectionTasks', input: ({ context }) => ({ pc: context.link.pc }) },
        ],
        on: {
          'signal.*': [
            { guard: 'isStaleSession', actions: { type: 'dropStale', params: 'staleSession' } },
            { guard: 'isFromNewRemoteConnection', target: 'active', reenter: true, actions: ['replaceConnection', 'resend'] },
            { guard: 'isStaleAck', actions: [{ type: 'dropStale', params: 'staleAck' }, 'adoptNewerRemote'] },
            { guard: 'isOutOfOrder', actions: { type: 'dropStale', params: 'staleSeq' } },
            { actions: 'acceptSignal' },
          ],
          'remote.candidate': [
            { guard: 'mustQueueCandidate', actions: 'queueCandidate' },
            { guard: 'isFromOldIceGeneration', actions: 'dropOldCandidate' },
            { actions: 'addCandidate' },
          ],
          // Taken by the connection region when current (isCurrentRestartRequest).
          'remote.restart': { actions: 'dropRestartRequest' },
          'pc.iceCandidate': { actions: 'sendCandidate' },
          'pc.signalingState': { actions: 'recordSignalingState' },
          'pc.track': { actions: 'receiveTrack' },
          'task.failed': { actions: 'recordTaskFailure' },
          'task.ignored': { actions: 'noteIgnoredTask' },
          'task.encoded': { actions: 'recordEncoded' },
          'media.tracks': { actions: ['updateLocalTracks', 'applyEncoding'] },
          'room.meshSize': { actions: ['updateMeshSize', 'applyEncoding'] },
          'room.uplink': { actions: ['updateUplink', 'applyEncoding'] },
          'ui.wantVideo': { guard: 'changesWantVideo', actions: 'setWantVideo' },
          'remote.wantsVideo': { actions: ['setRemoteWantsVideo', 'applyEncoding'] },
        },
        states: {
          negotiation: {
            initial: 'starting',
            on: {
              // Fired while a description was still being applied (the
              // connection can be stable a moment before the machine is):
              // kept, and offered on reaching stable. Lost, it would leave
              // an ICE restart or a new track unnegotiated.
              'pc.negotiationNeeded': { actions: 'noteNegotiationNeeded' },
              'remote.description': [
                { guard: 'isUnexpectedAnswer', actions: 'dropStaleAnswer' },
                // Waiting on an answer ourselves: the remote was in have-local-offer
                // when our offer came, so (if impolite) it ignored it; it comes
                // again behind the answer, when the remote can take it.
                {
                  guard: and(['isAnsweredOffer', stateIn(`${NEGOTIATION}.awaitingAnswer`)]),
                  actions: ['resendAnswer', 'resendOffer'],
                },
                { guard: 'isAnsweredOffer', actions: 'resendAnswer' },
                { guard: 'isStaleOffer', actions: 'dropStaleOffer' },
                // The impolite side keeps its own offer, and sends it again: the
                // remote's colliding offer says that it has not taken ours, which
                // may have been lost (sent into a signaling outage); the polite
                // remote rolls back and answers it. (Still being made, it goes
                // out when made.)
                { guard: 'mustIgnoreOffer', actions: ['ignoreOffer', 'resendOffer'] },
                { guard: 'mustSwapFirstOffer', target: '#peer.active', reenter: true, actions: ['swapConnection', 'resendDescription'] },
                { guard: 'isOffer', target: '.settingRemoteOffer', actions: 'acceptDescription' },
                { target: '.settingRemoteAnswer', actions: 'acceptDescription' },
              ],
            },
            states: {
              starting: {
                always: [{ guard: 'isInitiator', target: 'stable' }, { target: 'waitingForOffer' }],
              },
              waitingForOffer: {
                on: { 'pc.negotiationNeeded': { actions: 'deferNegotiation' } },
                after: {
                  firstOfferWait: [{ guard: 'negotiationDeferred', target: 'makingOffer' }, { target: 'stable' }],
                },
              },
              stable: {
                entry: ['syncRemoteTracks', 'applyEncoding'],
                always: { guard: 'negotiationPending', target: 'makingOffer' },
                on: { 'pc.negotiationNeeded': 'makingOffer' },
              },
              makingOffer: {
                entry: 'forgetNegotiationNeeded',
                invoke: {
                  src: 'setLocalDescription',
                  input: ({ context }) => ({ pc: context.link.pc }),
                  onDone: [{ guard: 'madeOffer', target: 'awaitingAnswer', actions: 'sendDescription' }, { target: 'stable' }],
                  onError: { target: 'stable', actions: { type: 'recordError', params: 'setLocalDescription(offer)' } },
                },
              },
              awaitingAnswer: {
                // An offer or answer lost with the signaling socket would leave
                // the offer pending forever: send it again, with its number, and
                // the remote answers it (or sends its answer again). Never roll
                // it back: the remote may have applied it, and a rolled-back
                // offer's transceivers get new mids the remote would refuse.
                on: {
                  'room.signalingRestored': { target: 'awaitingAnswer', reenter: true, actions: 'resendOffer' },
                  'remote.adopted': { actions: 'resendOffer' },
                },
                after: { answerTimeout: { target: 'awaitingAnswer', reenter: true, actions: 'resendOffer' } },
              },
              settingRemoteOffer: {
                invoke: {
                  src: 'setRemoteDescription',
                  input: remoteDescriptionInput,
                  onDone: { target: 'answering', actions: 'flushCandidates' },
                  // Not taken after all: the offer sent again must not be dropped as stale.
                  onError: { target: 'stable', actions: [{ type: 'recordError', params: 'setRemoteDescription(offer)' }, 'forgetOffer'] },
                },
              },
              answering: {
                invoke: {
                  src: 'setLocalDescription',
                  input: ({ context }) => ({ pc: context.link.pc }),
                  onDone: { target: 'stable', actions: 'sendDescription' },
                  // Back to stable for real (the remote offer rolled back), so
                  // the offer sent again is taken afresh.
                  onError: {
                    target: 'stable',
                    actions: [{ type: 'recordError', params: 'setLocalDescription(answer)' }, 'forgetOffer', 'rollBackRemoteOffer'],
                  },
                },
              },
              settingRemoteAnswer: {
                invoke: {
                  src: 'setRemoteDescription',
                  input: remoteDescriptionInput,
                  onDone: { target: 'stable', actions: 'flushCandidates' },
                  // The offer is still ours to complete: wait on, and the timeout
                  // sends it again, which the remote answers again.
                  onError: { target: 'awaitingAnswer', actions: { type: 'recordError', params: 'setRemoteDescription(answer)' } },
                },
              },
            },
          },
          connection: {
            initial: 'connecting',
            on: {
              // This device's network changed and the socket is back: every
              // path of the old network may be gone, and a new one may be
              // better. Restart now, whatever ICE says yet.
              'room.networkChanged': { target: '.restarting', actions: 'resetRestarts' },
            },
            states: {
              connecting: {
                tags: ['connecting'],
                entry: { type: 'reportLink', params: 'connecting' },
                after: { connectTimeout: { target: 'restarting', actions: 'diagnoseFirstAttempt' } },
                on: {
                  'pc.connectionState': [
                    { guard: 'isConnected', target: 'connected', actions: 'recordConnectionState' },
                    { guard: 'isFailed', target: 'restarting', actions: ['recordConnectionState', 'diagnoseFirstAttempt'] },
                    { actions: 'recordConnectionState' },
                  ],
                  'ui.restartIce': 'restarting',
                  'remote.restart': { guard: 'isCurrentRestartRequest', target: 'restarting' },
                },
              },
              connected: {
                tags: ['connected'],
                entry: [
                  'resetRestarts',
                  'endRecovery',
                  raise({ type: 'link.watch' }),
                  { type: 'reportLink', params: 'connected' },
                  'readRoute',
                ],
                exit: 'beginRecovery',
                on: {
                  // The channel went quiet: the path is dead whatever ICE says yet.
                  'link.silent': 'disconnected',
                  // Connected through the TURN server: the others' mesh overviews say so.
                  'task.route': { guard: 'isRelayed', actions: { type: 'reportLink', params: 'relayed' } },
                  'pc.connectionState': [
                    { guard: 'isDisconnected', target: 'disconnected', actions: 'recordConnectionState' },
                    // Chrome may never report iceConnectionState "failed";
                    // connectionState does, so that is what is watched.
                    { guard: 'isFailed', target: 'restarting', actions: 'recordConnectionState' },
                    { actions: 'recordConnectionState' },
                  ],
                  'ui.restartIce': 'restarting',
                  'remote.restart': { guard: 'isCurrentRestartRequest', target: 'restarting' },
                },
              },
              disconnected: {
                tags: ['reconnecting'],
                entry: ['noteIceGeneration', { type: 'reportLink', params: 'reconnecting' }],
                // "disconnected" often heals by itself; restart only if it lasts.
                after: { disconnected: 'restarting' },
                // The remote restarted ICE first (its offer, now answered): that
                // restart is the recovery, and it gets its wait like our own.
                always: { guard: 'newIceGeneration', target: 'recovering' },
                on: {
                  // Silence that ended before ICE noticed anything: a stall, not a cut.
                  'link.heard': { guard: 'iceSaysConnected', target: 'connected' },
                  // The signaling socket had to be reconnected as well: the
                  // path went with this side's network, and will not heal.
                  'room.signalingRestored': 'restarting',
                  'pc.connectionState': [
                    { guard: 'isConnected', target: 'connected', actions: 'recordConnectionState' },
                    { guard: 'isFailed', target: 'restarting', actions: 'recordConnectionState' },
                    { actions: 'recordConnectionState' },
                  ],
                  'ui.restartIce': 'restarting',
                  'remote.restart': { guard: 'isCurrentRestartRequest', target: 'restarting' },
                },
              },
              restarting: {
                tags: ['reconnecting'],
                entry: 'restartIce',
                always: 'recovering',
              },
              recovering: {
                tags: ['reconnecting'],
                // After the restart (and any diagnosis of the first attempt), so the reason goes with it.
                entry: ['noteIceGeneration', { type: 'reportLink', params: 'reconnecting' }],
                after: {
                  restartBackoff: [{ guard: 'restartsExhausted', target: 'failed' }, { target: 'restarting' }],
                },
                always: [
                  // Checked after every event: the restart's end shows in the
                  // negotiation (new credentials) or in the connection state.
                  // Not while the channel is silent: ICE may not have noticed
                  // the path is dead, and still say connected.
                  { guard: and(['restartCompleted', not(stateIn(`${LIVENESS}.silent`))]), target: 'connected' },
                  // A restart (either side's) was negotiated: its checks start
                  // now, so the wait before the next restart starts again. An
                  // offer that sat in a cut network's queue is answered only
                  // when the network is back; a wait counted from when it was
                  // sent would restart again on top of the checks it began.
                  { guard: 'newIceGeneration', target: 'recovering', reenter: true },
                ],
                on: {
                  'pc.connectionState': [
                    { guard: 'isConnected', target: 'connected', actions: 'recordConnectionState' },
                    { actions: 'recordConnectionState' },
                  ],
                  'link.heard': { guard: 'restartCompleted', target: 'connected' },
                  // The polite side still asks after the restart it saw: a new one.
                  'remote.restart': { guard: 'isCurrentRestartRequest', target: 'restarting' },
                },
              },
              failed: {
                tags: ['failed'],
                entry: ['recordFailure', { type: 'reportLink', params: 'failed' }],
                on: {
                  'pc.connectionState': [
                    { guard: 'isConnected', target: 'connected', actions: 'recordConnectionState' },
                    { actions: 'recordConnectionState' },
                  ],
                  'ui.retry': { target: 'restarting', actions: 'resetRestarts' },
                  'ui.restartIce': { target: 'restarting', actions: 'resetRestarts' },
                  // The remote tries again (its Retry, or its own recovery): so do we.
                  'remote.restart': { guard: 'isCurrentRestartRequest', target: 'restarting', actions: 'resetRestarts' },
                },
              },
            },
          },
          channel: {
            initial: 'closed',
            states: {
              // A new channel (a new connection) hears again what we want.
              closed: { on: { 'channel.open': { target: 'open', actions: 'tellWantVideo' } } },
              open: {
                // The ping is also the heartbeat the remote's liveness region listens to.
                entry: 'ping',
                after: { heartbeat: { target: 'open', reenter: true } },
                on: {
                  'channel.close': 'closed',
                  'channel.send': { actions: 'sendOnChannel' },
                },
              },
            },
            on: { 'channel.message': { actions: 'receiveOnChannel' } },
          },
          liveness: {
            // Whether the remote is heard on the data channel (its heartbeat,
            // chat, pongs). libwebrtc takes about 6 s, sometimes more than 10 s,
            // to call a dead path disconnected; silence tells sooner, and the
            // `connection` region takes it as a disconnection.
            initial: 'idle',
            on: { 'channel.close': '.idle' },
            states: {
              idle: { on: { 'channel.open': 'hearing' } },
              hearing: {
                after: { silence: 'silent' },
                on: { 'channel.message': { target: 'hearing', reenter: true } },
              },
              silent: {
                entry: [raise({ type: 'link.silent' }), 'tellSilent'],
                on: {
                  'channel.message': { target: 'hearing', actions: raise({ type: 'link.heard' }) },
                  // Connected again by ICE's word: give the channel its full wait again.
                  'link.watch': 'hearing',
                },
              },
            },
          },
        },
      },
    },
  })

/** The one tag that says how the pair is doing, for a tile's badge or a bot's line. */
export function peerTag(snapshot: SnapshotFrom<typeof peerMachine>): PeerTag {
  if (snapshot.hasTag('connected')) return 'connected'
  if (snapshot.hasTag('reconnecting')) return 'reconnecting'
  if (snapshot.hasTag('failed')) return 'failed'
  return 'connecting'
}
