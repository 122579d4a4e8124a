import { useSelector } from '@xstate/react'
import { useEffect, useState } from 'react'
import type { ActorRefFrom } from 'xstate'
import type { peerMachine } from '../../../machines/peerMachine'
import { MediaAudio, MediaVideo } from '../../shared/MediaView'
import { useSpeaking } from '../../shared/useAudioLevel'
import { peerTag } from '../../../machines/peerMachine'
import { pairSafetyCode } from '../../../machines/safetyCode'
import { CallContext } from '../../shared/callContext'
import { useRoute } from './useRoute'
import { initials } from '../../shared/initials'

type PeerRef = ActorRefFrom<typeof peerMachine>

export function LocalTile() {
  const media = CallContext.useSelector((s) => s.context.media)
  const presence = CallContext.useSelector((s) => s.context.presence)
  const stream = useSelector(media, (s) => s.context.tracks.stream)
  const videoId = useSelector(media, (s) => s.context.tracks.video?.id ?? null)
  const audioId = useSelector(media, (s) => s.context.tracks.audio?.id ?? null)
  const speaking = useSpeaking(presence.mic ? stream : null, audioId)
  return (
    <article className={`tile local${speaking ? ' speaking' : ''}`} data-testid="local-tile" aria-label={`You (${presence.name})`}>
      {presence.camera ? (
        <MediaVideo stream={stream} version={videoId} label="Your camera" mirrored />
      ) : (
        <div className="avatar" aria-hidden="true">
          {initials(presence.name)}
        </div>
      )}
      <footer>
        <span className="name">{presence.name} (you)</span>
        {!presence.mic && (
          <span className="muted-marker" role="img" aria-label="Microphone off">
            <MicOffIcon />
          </span>
        )}
      </footer>
    </article>
  )
}

/** A remote participant: video, name, mute marker, speaking ring, connection badge, quality. */
export function RemoteTile({ peerId, peer }: { peerId: string; peer: PeerRef }) {
  const presence = CallContext.useSelector((s) => s.context.roster[peerId])
  const tag = useSelector(peer, peerTag)
  const stream = useSelector(peer, (s) => s.context.link.remoteStream)
  const tracks = useSelector(peer, (s) => s.context.link.remoteTracks, sameTracks)
  const problem = useSelector(peer, (s) => s.context.link.failure)
  const uplink = useSelector(peer, (s) => s.context.encoding.camera.maxBitrate)
  const speaking = useSpeaking(tracks.audio ? stream : null, tracks.audio)
  const route = useRoute(peerId)
  const name = presence?.name ?? 'Someone'
  const showVideo = tracks.video && presence?.camera !== false
  return (
    <article
      className={`tile remote state-${tag}${speaking && presence?.mic ? ' speaking' : ''}`}
      data-testid="remote-tile"
      data-peer-id={peerId}
      data-state={tag}
      aria-label={`${name}, ${tag}${presence?.mic === false ? ', muted' : ''}`}
    >
      <MediaVideo stream={stream} version={tracks.video} label={`${name}'s camera`} />
      {!showVideo && (
        <div className="avatar overlay" aria-hidden="true">
          {initials(name)}
        </div>
      )}
      <MediaAudio stream={stream} version={tracks.audio} />
      <span className={`badge ${tag}`} title={problem?.message}>
        {tag}
      </span>
      {problem && (
        <p className="tile-problem" data-testid="tile-problem" data-reason={problem.reason} role="status">
          {problem.message}
        </p>
      )}
      <Quality bitsPerSecond={uplink} />
      {route && (
        <span className={`route ${route.kind}`} data-testid="tile-route" data-route={route.kind} title={route.detail}>
          {route.kind}
        </span>
      )}
      <SafetyCode peer={peer} name={name} />
      <footer>
        <span className="name">{name}</span>
        {presence?.mic === false && (
          <span className="muted-marker" data-testid="peer-muted" role="img" aria-label={`${name}'s microphone is off`}>
            <MicOffIcon />
          </span>
        )}
      </footer>
    </article>
  )
}

/**
 * The pair's safety code, shown on request: the two participants read it to
 * each other, and the same number on both screens means nobody sits in the
 * middle of their connection (`machines/safetyCode.ts`).
 */
function SafetyCode({ peer, name }: { peer: PeerRef; name: string }) {
  const room = CallContext.useSelector((s) => s.context.room)
  // A new negotiation (or a new connection) may bring new certificates.
  const signalingState = useSelector(peer, (s) => s.context.link.signalingState)
  const pc = useSelector(peer, (s) => s.context.link.pc)
  const [open, setOpen] = useState(false)
  const [code, setCode] = useState<string | null>(null)
  useEffect(() => {
    if (!open) return
    let current = true
    void pairSafetyCode(room, pc).then((next) => current && setCode(next))
    return () => {
      current = false
    }
  }, [open, room, pc, signalingState])
  return (
    <div className="safety">
      <button
        type="button"
        className="safety-toggle"
        data-testid="safety-toggle"
        aria-expanded={open}
        title={`Check that your connection with ${name} is private`}
        onClick={() => setOpen((o) => !o)}
      >
        <ShieldIcon />
        <span className="visually-hidden">Safety code</span>
      </button>
      {open && (
        <p className="safety-code" data-testid="safety-code" role="status">
          {code ? (
            <>
              <span>Safety code</span> <code>{code}</code>
              <small>The same on {name}'s screen: nobody is listening in.</small>
            </>
          ) : (
            'No safety code until the connection is negotiated.'
          )}
        </p>
      )}
    </div>
  )
}

function ShieldIcon() {
  return (
    <svg viewBox="0 0 24 24" width="14" height="14" aria-hidden="true">
      <path fill="currentColor" d="M12 2 4 5v6c0 5 3.4 9.6 8 11 4.6-1.4 8-6 8-11V5l-8-3Zm-1 14-4-4 1.4-1.4L11 13.2l4.6-4.6L17 10l-6 6Z" />
    </svg>
  )
}

/** A remote screen share, as a wide tile of its own. */
export function ScreenTile({ peerId, peer }: { peerId: string; peer: PeerRef }) {
  const name = CallContext.useSelector((s) => s.context.roster[peerId]?.name ?? 'Someone')
  const stream = useSelector(peer, (s) => s.context.link.remoteScreen)
  // The tile shows as soon as the sharer says so; its track may come a moment later.
  const sharing = useSelector(peer, (s) => s.context.link.remoteTracks.screen)
  return (
    <article className="tile screen" data-testid="remote-screen" data-peer-id={peerId} aria-label={`${name}'s screen`}>
      <MediaVideo stream={stream} version={sharing} label={`${name}'s screen`} />
      <footer>
        <span className="name">{name}'s screen</span>
      </footer>
    </article>
  )
}

/** What this side sends that peer: the share of the uplink the mesh leaves it. */
function Quality({ bitsPerSecond }: { bitsPerSecond: number }) {
  const bars = bitsPerSecond >= 1_000_000 ? 3 : bitsPerSecond >= 500_000 ? 2 : 1
  const label = `Sending ${(bitsPerSecond / 1_000_000).toFixed(1)} Mbit/s of video to this person`
  return (
    <span className="quality" data-testid="tile-quality" data-bps={bitsPerSecond} title={label} role="img" aria-label={label}>
      {[1, 2, 3].map((bar) => (
        <i key={bar} className={bar <= bars ? 'on' : undefined} />
      ))}
      <small>{(bitsPerSecond / 1_000_000).toFixed(1)}M</small>
    </span>
  )
}

function sameTracks(a: { audio: boolean; video: boolean; screen: boolean }, b: typeof a) {
  return a.audio === b.audio && a.video === b.video && a.screen === b.screen
}

export function MicOffIcon() {
  return (
    <svg viewBox="0 0 24 24" width="16" height="16" aria-hidden="true">
      <path
        fill="currentColor"
        d="M12 14a3 3 0 0 0 3-3V5a3 3 0 0 0-6 0v6a3 3 0 0 0 3 3Zm5-3a5 5 0 0 1-10 0H5a7 7 0 0 0 6 6.92V21h2v-3.08A7 7 0 0 0 19 11h-2Z"
      />
      <path stroke="currentColor" strokeWidth="2" d="M4 4l16 16" />
    </svg>
  )
}
