import { useEffect, useState } from 'react'
import type { MediaStreamLike } from '../../machines/webrtc'
import { domStream } from './MediaView'

let shared: AudioContext | null = null
function audioContext(): AudioContext | null {
  if (typeof AudioContext === 'undefined') return null
  shared ??= new AudioContext()
  if (shared.state === 'suspended') void shared.resume().catch(() => undefined)
  return shared
}

/**
 * The loudness (0 to 1) of a stream's audio, sampled ten times a second,
 * for the microphone meter and the speaking indicator. The value is view
 * state: it comes from the media, not from any machine.
 */
export function useAudioLevel(stream: MediaStreamLike | null, version?: unknown): number {
  const [level, setLevel] = useState(0)
  useEffect(() => {
    const track = domStream(stream)?.getAudioTracks()[0]
    const context = track ? audioContext() : null
    if (!stream || !track || !context) {
      setLevel(0)
      return
    }
    const source = context.createMediaStreamSource(new MediaStream([track]))
    const analyser = context.createAnalyser()
    analyser.fftSize = 512
    source.connect(analyser)
    const samples = new Float32Array(analyser.fftSize)
    const timer = setInterval(() => {
      analyser.getFloatTimeDomainData(samples)
      let sum = 0
      for (const sample of samples) sum += sample * sample
      setLevel(Math.min(1, Math.sqrt(sum / samples.length) * 4))
    }, 100)
    return () => {
      clearInterval(timer)
      source.disconnect()
    }
  }, [stream, version])
  return level
}
