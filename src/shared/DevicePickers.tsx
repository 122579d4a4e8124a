import { useSelector } from '@xstate/react'
import { useTranslation } from 'react-i18next'
import { CallContext } from './callContext'

/**
 * The microphone and camera pickers, in the lobby and during the call. The
 * lists follow devices plugged in and out (`devicechange`).
 */
export function DevicePickers() {
  const { t } = useTranslation()
  const media = CallContext.useSelector((s) => s.context.media)
  const stream = useSelector(media, (s) => s.context.tracks.stream)
  const devices = useSelector(media, (s) => s.context.devices)
  // Re-read the labels when a track is replaced (a switch, or a fallback).
  useSelector(media, (s) => `${s.context.tracks.audio?.id}/${s.context.tracks.video?.id}`)
  const cameras = devices.filter((d) => d.kind === 'videoinput')
  const microphones = devices.filter((d) => d.kind === 'audioinput')
  return (
    <>
      {microphones.length > 0 && (
        <>
          <label htmlFor="microphone">{t('lobby.microphone')}</label>
          <select
            id="microphone"
            value={microphones.find((d) => d.label && stream?.getAudioTracks()[0]?.label === d.label)?.deviceId ?? microphones[0].deviceId}
            onChange={(event) => media.send({ type: 'ui.selectDevice', kind: 'audioinput', deviceId: event.target.value })}
          >
            {microphones.map((d, i) => (
              <option key={d.deviceId || i} value={d.deviceId}>
                {d.label || t('lobby.microphoneN', { n: i + 1 })}
              </option>
            ))}
          </select>
        </>
      )}
      {cameras.length > 0 && (
        <>
          <label htmlFor="camera">{t('lobby.camera')}</label>
          <select
            id="camera"
            value={cameras.find((d) => d.label && stream?.getVideoTracks()[0]?.label === d.label)?.deviceId ?? cameras[0].deviceId}
            onChange={(event) => media.send({ type: 'ui.selectDevice', kind: 'videoinput', deviceId: event.target.value })}
          >
            {cameras.map((d, i) => (
              <option key={d.deviceId || i} value={d.deviceId}>
                {d.label || t('lobby.cameraN', { n: i + 1 })}
              </option>
            ))}
          </select>
        </>
      )}
    </>
  )
}
