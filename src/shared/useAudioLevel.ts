import { useEffect, useState } from 'react'
import type { MediaStreamLike } from '../../machines/webrtc'
import { watchAudioLevel } from './audioLevel'
import { domStream } from './MediaView'

/** The level above which a tile shows its speaking ring. */
export const SPEAKING_LEVEL = 0.08

/**
 * The loudness (0 to 1) of a stream's audio, sampled ten times a second,
 * for the lobby's microphone meter: the component renders at every sample,
 * so use {@link useSpeaking} where only "speaking or not" shows. The value is
 * view state: it comes from the media, not from any machine.
 */
export function useAudioLevel(stream: MediaStreamLike | null, version?: unknown): number {
  const [level, setLevel] = useState(0)
  useEffect(() => {
    const track = domStream(stream)?.getAudioTracks()[0]
    const stop = track ? watchAudioLevel(track, setLevel) : null
    if (!stop) setLevel(0)
    return () => stop?.()
  }, [stream, version])
  return level
}

/**
 * Whether a stream's audio is above {@link SPEAKING_LEVEL}, sampled ten
 * times a second. The state changes only when the answer does, so a tile
 * re-renders when someone starts or stops speaking, not at every sample.
 */
export function useSpeaking(stream: MediaStreamLike | null, version?: unknown): boolean {
  const [speaking, setSpeaking] = useState(false)
  useEffect(() => {
    const track = domStream(stream)?.getAudioTracks()[0]
    // Null until the first sample, so a new track's first answer always lands.
    let last: boolean | null = null
    const stop = track
      ? watchAudioLevel(track, (level) => {
          const now = level > SPEAKING_LEVEL
          if (now === last) return
          last = now
          setSpeaking(now)
        })
      : null
    if (!stop) setSpeaking(false)
    return () => stop?.()
  }, [stream, version])
  return speaking
}

/**
 * Whether someone is talking into a muted microphone: a copy of the track,
 * enabled, is listened to while the real one is muted (a muted track gives
 * silence), for the "You're muted" hint. Sound says so at once, and the
 * hint stays until three quiet seconds have passed.
 */
export function useTalkingWhileMuted(stream: MediaStreamLike | null, muted: boolean, version?: unknown): boolean {
  const [talking, setTalking] = useState(false)
  useEffect(() => {
    const track = muted ? domStream(stream)?.getAudioTracks()[0] : undefined
    const copy = track?.clone()
    if (copy) copy.enabled = true
    let lastLoud = -Infinity
    const stop = copy
      ? watchAudioLevel(copy, (level) => {
          const now = Date.now()
          if (level > SPEAKING_LEVEL) lastLoud = now
          setTalking(now - lastLoud < 3_000)
        })
      : null
    if (!stop) setTalking(false)
    return () => {
      stop?.()
      copy?.stop()
    }
  }, [stream, muted, version])
  return talking
}
