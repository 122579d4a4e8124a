import { useSelector } from '@xstate/react'
import { useEffect, useState } from 'react'
import { useTranslation } from 'react-i18next'
import type { ActorRefFrom } from 'xstate'
import type { peerMachine } from '../../../machines/peerMachine'
import { MediaAudio, MediaVideo } from '../../shared/MediaView'
import { useSpeaking, useTalkingWhileMuted } from '../../shared/useAudioLevel'
import { peerTag } from '../../../machines/peerMachine'
import { pairSafetyCode } from '../../../machines/safetyCode'
import { CallContext } from '../../shared/callContext'
import { useRoute } from './useRoute'
import { initials } from '../../shared/initials'

type PeerRef = ActorRefFrom<typeof peerMachine>

export function LocalTile() {
  const { t } = useTranslation()
  const media = CallContext.useSelector((s) => s.context.media)
  const presence = CallContext.useSelector((s) => s.context.presence)
  const stream = useSelector(media, (s) => s.context.tracks.stream)
  const videoId = useSelector(media, (s) => s.context.tracks.video?.id ?? null)
  const audioId = useSelector(media, (s) => s.context.tracks.audio?.id ?? null)
  const speaking = useSpeaking(presence.mic ? stream : null, audioId)
  const talkingMuted = useTalkingWhileMuted(stream, !presence.mic, audioId)
  return (
    <article
      className={`tile local${speaking ? ' speaking' : ''}`}
      data-testid="local-tile"
      aria-label={t('tile.you', { name: presence.name })}
    >
      {presence.camera ? (
        <MediaVideo stream={stream} version={videoId} label={t('lobby.yourCamera')} mirrored />
      ) : (
        <div className="avatar" aria-hidden="true">
          {initials(presence.name)}
        </div>
      )}
      {talkingMuted && (
        <p className="muted-hint" role="status" data-testid="muted-hint">
          {t('tile.mutedHint')}
        </p>
      )}
      <footer>
        <span className="name">{t('tile.youName', { name: presence.name })}</span>
        {!presence.mic && (
          <span className="muted-marker" role="img" aria-label={t('tile.micOff')}>
            <MicOffIcon />
          </span>
        )}
      </footer>
    </article>
  )
}

/** A remote participant: video, name, mute marker, speaking ring, connection badge, quality. */
export function RemoteTile({
  peerId,
  peer,
  videoOff = false,
  onSpeaking,
}: {
  peerId: string
  peer: PeerRef
  videoOff?: boolean
  /** Told when this person starts or stops speaking (for follow the speaker). */
  onSpeaking?: (peerId: string, speaking: boolean) => void
}) {
  const { t, i18n } = useTranslation()
  const presence = CallContext.useSelector((s) => s.context.roster[peerId])
  const tag = useSelector(peer, peerTag)
  const stream = useSelector(peer, (s) => s.context.link.remoteStream)
  const tracks = useSelector(peer, (s) => s.context.link.remoteTracks, sameTracks)
  const problem = useSelector(peer, (s) => s.context.link.failure)
  const uplink = useSelector(peer, (s) => s.context.encoding.camera.maxBitrate)
  const speaking = useSpeaking(tracks.audio ? stream : null, tracks.audio)
  const route = useRoute(peerId)
  const selfId = CallContext.useSelector((s) => s.context.selfId)
  const roster = CallContext.useSelector((s) => s.context.roster)
  // Whom this person cannot reach, by their own word (their presence's links): not us, we know our own pair.
  const unreachable = Object.entries(presence?.links ?? {})
    .filter(([id, link]) => id !== selfId && id in roster && (link.state === 'failed' || link.reason !== undefined))
    .map(([id]) => roster[id].name)
  const name = presence?.name ?? t('common.someone')
  const problemText = problem ? t(problem.reason === 'no-relay' ? 'tile.noRelay' : 'tile.iceFailed') : undefined
  const showVideo = tracks.video && presence?.camera !== false && !videoOff
  const talking = speaking && presence?.mic === true
  useEffect(() => onSpeaking?.(peerId, talking), [onSpeaking, peerId, talking])
  return (
    <article
      className={`tile remote state-${tag}${talking ? ' speaking' : ''}`}
      data-testid="remote-tile"
      data-peer-id={peerId}
      data-state={tag}
      aria-label={[name, t(`tile.state.${tag}`), ...(presence?.mic === false ? [t('tile.muted')] : [])].join(', ')}
    >
      <MediaVideo stream={stream} version={tracks.video} label={t('tile.camera', { name })} />
      {!showVideo && (
        <div className="avatar overlay" aria-hidden="true">
          {initials(name)}
        </div>
      )}
      {unreachable.length > 0 && (
        <p className="mesh-hint" data-testid="mesh-hint" role="status">
          {t('tile.cantReach', { name, others: new Intl.ListFormat(i18n.language, { type: 'conjunction' }).format(unreachable) })}
        </p>
      )}
      {videoOff && (
        <p className="video-paused" data-testid="video-paused">
          {t('tile.videoPaused')}
        </p>
      )}
      <MediaAudio stream={stream} version={tracks.audio} />
      <span className={`badge ${tag}`} title={problemText}>
        {t(`tile.state.${tag}`)}
      </span>
      {problem && (
        <p className="tile-problem" data-testid="tile-problem" data-reason={problem.reason} role="status">
          {problemText}
          {tag === 'failed' && (
            <button type="button" className="retry" data-testid="retry" onClick={() => peer.send({ type: 'ui.retry' })}>
              {t('common.tryAgain')}
            </button>
          )}
        </p>
      )}
      <Quality bitsPerSecond={uplink} />
      {route && (
        <span className={`route ${route.kind}`} data-testid="tile-route" data-route={route.kind} title={route.detail}>
          {t(`tile.${route.kind}`)}
        </span>
      )}
      <SafetyCode peer={peer} name={name} />
      <footer>
        <span className="name">{name}</span>
        {presence?.mic === false && (
          <span className="muted-marker" data-testid="peer-muted" role="img" aria-label={t('tile.theirMicOff', { name })}>
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
  const { t } = useTranslation()
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
        title={t('tile.safetyTitle', { name })}
        onClick={() => setOpen((o) => !o)}
      >
        <ShieldIcon />
        <span className="visually-hidden">{t('tile.safety')}</span>
      </button>
      {open && (
        <p className="safety-code" data-testid="safety-code" role="status">
          {code ? (
            <>
              <span>{t('tile.safety')}</span> <code>{code}</code>
              <small>{t('tile.safetySame', { name })}</small>
            </>
          ) : (
            t('tile.noSafetyCode')
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
  const { t } = useTranslation()
  const name = CallContext.useSelector((s) => s.context.roster[peerId]?.name) ?? t('common.someone')
  const stream = useSelector(peer, (s) => s.context.link.remoteScreen)
  // The tile shows as soon as the sharer says so; its track may come a moment later.
  const sharing = useSelector(peer, (s) => s.context.link.remoteTracks.screen)
  return (
    <article className="tile screen" data-testid="remote-screen" data-peer-id={peerId} aria-label={t('stage.screenOf', { name })}>
      <MediaVideo stream={stream} version={sharing} label={t('stage.screenOf', { name })} />
      <footer>
        <span className="name">{t('stage.screenOf', { name })}</span>
      </footer>
    </article>
  )
}

/** What this side sends that peer: the share of the uplink the mesh leaves it. */
function Quality({ bitsPerSecond }: { bitsPerSecond: number }) {
  const { t, i18n } = useTranslation()
  const bars = bitsPerSecond >= 1_000_000 ? 3 : bitsPerSecond >= 500_000 ? 2 : 1
  const mbps = (bitsPerSecond / 1_000_000).toLocaleString(i18n.language, { minimumFractionDigits: 1, maximumFractionDigits: 1 })
  const label = t('tile.sending', { mbps })
  return (
    <span className="quality" data-testid="tile-quality" data-bps={bitsPerSecond} title={label} role="img" aria-label={label}>
      {[1, 2, 3].map((bar) => (
        <i key={bar} className={bar <= bars ? 'on' : undefined} />
      ))}
      <small>{mbps}M</small>
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
