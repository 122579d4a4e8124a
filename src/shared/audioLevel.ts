/** How often levels are read: often enough for a meter and a speaking ring. */
const SAMPLE_MS = 100

type Watch = { analyser: AnalyserNode; samples: Float32Array<ArrayBuffer>; onLevel: (level: number) => void }

let shared: AudioContext | null = null
const watches = new Set<Watch>()
let timer: ReturnType<typeof setInterval> | undefined

function audioContext(): AudioContext | null {
  if (typeof AudioContext === 'undefined') return null
  shared ??= new AudioContext()
  if (shared.state === 'suspended') void shared.resume().catch(() => undefined)
  return shared
}

/**
 * Calls `onLevel` with the loudness (0 to 1) of a track's audio ten times a
 * second, until the returned function is called. Every watched track is read
 * in the same timer task, so the state updates of all tiles land in one
 * React commit rather than one each. Null where there is no Web Audio.
 *
 * @example
 * const stop = watchAudioLevel(stream.getAudioTracks()[0], (level) => meter.value = level)
 */
export function watchAudioLevel(track: MediaStreamTrack, onLevel: (level: number) => void): (() => void) | null {
  const context = audioContext()
  if (!context) return null
  const source = context.createMediaStreamSource(new MediaStream([track]))
  const analyser = context.createAnalyser()
  analyser.fftSize = 512
  source.connect(analyser)
  const watch: Watch = { analyser, samples: new Float32Array(analyser.fftSize), onLevel }
  watches.add(watch)
  timer ??= setInterval(sampleAll, SAMPLE_MS)
  return () => {
    watches.delete(watch)
    source.disconnect()
    if (watches.size === 0) {
      clearInterval(timer)
      timer = undefined
    }
  }
}

function sampleAll() {
  for (const watch of watches) watch.onLevel(levelOf(watch))
}

/** The RMS of the analyser's last window, scaled so that speech reaches about 1. */
function levelOf({ analyser, samples }: Watch): number {
  analyser.getFloatTimeDomainData(samples)
  let sum = 0
  for (let i = 0; i < samples.length; i++) sum += samples[i] * samples[i]
  return Math.min(1, Math.sqrt(sum / samples.length) * 4)
}
