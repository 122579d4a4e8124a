import { useEffect, useRef } from 'react'
import type { MediaStreamLike } from '../../machines/webrtc'

/**
 * A <video> showing a stream. Video elements stay muted (muted autoplay is
 * always allowed); remote sound plays through {@link MediaAudio}.
 */
export function MediaVideo({
  stream,
  version,
  label,
  mirrored,
}: {
  stream: MediaStreamLike | null
  version?: unknown
  label: string
  mirrored?: boolean
}) {
  const ref = useRef<HTMLVideoElement>(null)
  useEffect(() => {
    const video = ref.current
    if (!video) return
    // Assigned again when a track joins the same stream object: setting
    // srcObject reloads the element, which then takes the new track set
    // (Chromium may otherwise go on showing nothing).
    video.srcObject = domStream(stream)
    if (stream) void video.play().catch(() => undefined)
  }, [stream, version])
  return <video ref={ref} className={mirrored ? 'mirrored' : undefined} autoPlay playsInline muted aria-label={label} />
}

/** Plays a remote stream's audio. */
export function MediaAudio({ stream, version }: { stream: MediaStreamLike | null; version?: unknown }) {
  const ref = useRef<HTMLAudioElement>(null)
  useEffect(() => {
    const audio = ref.current
    if (!audio) return
    const source = domStream(stream)
    if (audio.srcObject !== source) audio.srcObject = source
    if (stream) void audio.play().catch(() => undefined)
  }, [stream, version])
  return <audio ref={ref} autoPlay />
}

/**
 * The stream as the DOM type that `srcObject` and Web Audio take. In the
 * browser every stream the machines hold is the browser's own
 * (`machines/browser.ts`); the machines type it as the part they use.
 */
export function domStream(stream: MediaStreamLike | null): MediaStream | null {
  return stream as MediaStream | null
}
