import { useSelector } from '@xstate/react'
import type { MediaStreamLike } from '../../../machines/webrtc'
import { useState, type FormEvent } from 'react'
import { Trans, useTranslation } from 'react-i18next'
import { LanguageSwitch } from '../../i18n/LanguageSwitch'
import { DevicePickers } from '../../shared/DevicePickers'
import { MediaVideo } from '../../shared/MediaView'
import { useAudioLevel } from '../../shared/useAudioLevel'
import { CallContext } from '../../shared/callContext'
import { initials } from '../../shared/initials'
import { displayName } from '../../../protocol/messages'
import { loadName, saveName } from './displayName'
import { saveRelayOnly } from './relayOnly'
import { useLowBandwidth } from '../../shared/videoQuality'

/** Its own component: it renders at every sample, and the rest of the lobby need not. */
function MicMeter({ stream, version }: { stream: MediaStreamLike | null; version: string | null }) {
  const { t } = useTranslation()
  const percent = Math.round(useAudioLevel(stream, version) * 100)
  return (
    <div className="meter" role="meter" aria-label={t('lobby.micLevel')} aria-valuemin={0} aria-valuemax={100} aria-valuenow={percent}>
      <span style={{ transform: `scaleX(${percent / 100})` }} />
    </div>
  )
}

/** Camera preview, microphone meter, device pickers and a name, before joining. */
export function Lobby() {
  const { t } = useTranslation()
  const call = CallContext.useActorRef()
  const room = CallContext.useSelector((s) => s.context.room)
  const media = CallContext.useSelector((s) => s.context.media)
  const stream = useSelector(media, (s) => s.context.tracks.stream)
  const hasVideo = useSelector(media, (s) => s.context.tracks.video !== null)
  const audioId = useSelector(media, (s) => s.context.tracks.audio?.id ?? null)
  const videoId = useSelector(media, (s) => s.context.tracks.video?.id ?? null)
  const problem = useSelector(media, (s) => s.context.problem)
  const acquiring = useSelector(media, (s) => s.matches({ devices: 'acquiring' }) || s.matches({ devices: 'switching' }))
  const [name, setName] = useState(loadName)
  // The room machine holds the setting (read from storage at start-up); the lobby only changes it.
  const relayOnly = CallContext.useSelector((s) => s.context.relayOnly)
  const [lowBandwidth, setLowBandwidth] = useLowBandwidth()
  const toggleRelay = (on: boolean) => {
    saveRelayOnly(on)
    call.send({ type: 'ui.setRelayOnly', relayOnly: on })
  }

  const join = (event: FormEvent) => {
    event.preventDefault()
    const chosen = displayName(name)
    saveName(chosen)
    call.send({ type: 'ui.setName', name: chosen })
    call.send({ type: 'ui.join' })
  }

  return (
    <main className="page lobby">
      <h1>
        <Trans i18nKey="lobby.joining" values={{ room }} components={{ room: <span className="room" /> }} />
      </h1>
      <div className="lobby-grid">
        <section className="preview" aria-label={t('lobby.preview')}>
          {hasVideo ? (
            <MediaVideo stream={stream} version={videoId} label={t('lobby.yourCamera')} mirrored />
          ) : (
            <div className="avatar big" aria-hidden="true">
              {initials(name)}
            </div>
          )}
          <MicMeter stream={stream} version={audioId} />
          {acquiring && <p className="hint">{t('lobby.opening')}</p>}
          {problem && (
            <div className="notice" role="status">
              <p>{problem.reason === 'denied' ? t('lobby.denied') : t('lobby.unavailable')}</p>
              <p>{t('lobby.stillJoin')}</p>
              <button type="button" onClick={() => media.send({ type: 'ui.retryMedia' })}>
                {t('common.tryAgain')}
              </button>
            </div>
          )}
        </section>
        <form className="settings" onSubmit={join}>
          <label htmlFor="display-name">{t('lobby.name')}</label>
          <input
            id="display-name"
            data-testid="display-name"
            value={name}
            maxLength={64}
            autoComplete="name"
            placeholder={t('lobby.guest')}
            onChange={(event) => setName(event.target.value)}
          />
          <DevicePickers />
          <label className="check">
            <input type="checkbox" data-testid="relay-only" checked={relayOnly} onChange={(event) => toggleRelay(event.target.checked)} />
            <span>
              {t('lobby.relayOnly')}
              <small>{t('lobby.relayOnlyHint')}</small>
            </span>
          </label>
          <label className="check">
            <input
              type="checkbox"
              data-testid="low-bandwidth"
              checked={lowBandwidth}
              onChange={(event) => setLowBandwidth(event.target.checked)}
            />
            <span>
              {t('lobby.lowBandwidth')}
              <small>{t('lobby.lowBandwidthHint')}</small>
            </span>
          </label>
          <button type="submit" className="primary big" data-testid="join">
            {t('lobby.join')}
          </button>
          <LanguageSwitch />
        </form>
      </div>
    </main>
  )
}
