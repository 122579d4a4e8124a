import { createContext, useContext } from 'react'
import type { InspectionEvent } from 'xstate'
import { createRecorder, type Recorder } from '../../machines/inspect/recorder'

/** The call's recorder, for the inspector panel. */
export const RecorderContext = createContext<Recorder | null>(null)

export function useRecorder(): Recorder {
  const recorder = useContext(RecorderContext)
  if (!recorder) throw new Error('useRecorder outside a call')
  return recorder
}

/**
 * The `inspect` observer of a call: always the recorder (a bounded ring
 * buffer, so export works even if the panel was never opened) and, with
 * `?inspect=stately`, Stately's browser inspector, loaded on demand. Events
 * from before it has loaded are kept and replayed to it.
 */
export function createInspection(search: string): { recorder: Recorder; inspect: (event: InspectionEvent) => void } {
  const recorder = createRecorder()
  // For the console (and the tests): `meshcall.recorder.size()`, `.entries()`.
  Object.assign(globalThis, { meshcall: { recorder } })
  if (new URLSearchParams(search).get('inspect') !== 'stately') return { recorder, inspect: recorder.inspect }
  let forward: ((event: InspectionEvent) => void) | null = null
  const early: InspectionEvent[] = []
  void import('@statelyai/inspect').then(({ createBrowserInspector }) => {
    const stately = createBrowserInspector()
    forward = (event) => stately.inspect.next?.(event)
    for (const event of early.splice(0)) forward(event)
  })
  return {
    recorder,
    inspect: (event) => {
      recorder.inspect(event)
      if (forward) forward(event)
      else if (early.length < 5_000) early.push(event)
    },
  }
}
