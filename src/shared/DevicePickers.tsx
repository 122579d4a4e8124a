import { useSelector } from '@xstate/react'
import { useTranslation } from 'react-i18next'
import { CallContext } from './callContext'

type Kind = 'audioinput' | 'videoinput'

/**
 * The microphone and camera pickers, in the lobby and during the call. The
 * lists follow devices plugged in and out (`devicechange`).
 */
export function DevicePickers() {
  return (
    <>
      <DevicePicker kind="audioinput" />
      <DevicePicker kind="videoinput" />
    </>
  )
}

const PICKERS = {
  audioinput: { id: 'microphone', label: 'lobby.microphone', nth: 'lobby.microphoneN' },
  videoinput: { id: 'camera', label: 'lobby.camera', nth: 'lobby.cameraN' },
} as const

/** One kind's picker; the selected entry is the device whose label the live track carries. Nothing while there is none of that kind. */
function DevicePicker({ kind }: { kind: Kind }) {
  const { t } = useTranslation()
  const media = CallContext.useSelector((s) => s.context.media)
  const devices = useSelector(media, (s) => s.context.devices).filter((d) => d.kind === kind)
  // Re-read the label when the track is replaced (a switch, or a fallback).
  const label = useSelector(media, (s) => {
    const stream = s.context.tracks.stream
    return (kind === 'audioinput' ? stream?.getAudioTracks() : stream?.getVideoTracks())?.[0]?.label
  })
  if (devices.length === 0) return null
  const picker = PICKERS[kind]
  return (
    <>
      <label htmlFor={picker.id}>{t(picker.label)}</label>
      <select
        id={picker.id}
        value={devices.find((d) => d.label && d.label === label)?.deviceId ?? devices[0].deviceId}
        onChange={(event) => media.send({ type: 'ui.selectDevice', kind, deviceId: event.target.value })}
      >
        {devices.map((d, i) => (
          <option key={d.deviceId || i} value={d.deviceId}>
            {d.label || t(picker.nth, { n: i + 1 })}
          </option>
        ))}
      </select>
    </>
  )
}
