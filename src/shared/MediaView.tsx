import { useEffect, useRef } from 'react'

/**
 * A <video> showing a stream. Video elements stay muted (muted autoplay is
 * always allowed); remote sound plays through {@link MediaAudio}.
 */
export function MediaVideo({ stream, version, label, mirrored }: { stream: MediaStream | null; version?: unknown; label: string; mirrored?: boolean }) {
  const ref = useRef<HTMLVideoElement>(null)
  useEffect(() => {
    const video = ref.current
    if (!video) return
    if (video.srcObject !== stream) video.srcObject = stream
    // Tracks added to the same stream object need a nudge in some browsers.
    if (stream) void video.play().catch(() => undefined)
  }, [stream, version])
  return <video ref={ref} className={mirrored ? 'mirrored' : undefined} autoPlay playsInline muted aria-label={label} />
}

/** Plays a remote stream's audio. */
export function MediaAudio({ stream, version }: { stream: MediaStream | null; version?: unknown }) {
  const ref = useRef<HTMLAudioElement>(null)
  useEffect(() => {
    const audio = ref.current
    if (!audio) return
    if (audio.srcObject !== stream) audio.srcObject = stream
    if (stream) void audio.play().catch(() => undefined)
  }, [stream, version])
  return <audio ref={ref} autoPlay />
}
