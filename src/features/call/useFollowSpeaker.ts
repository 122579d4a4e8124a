import { useCallback, useEffect, useRef, useState } from 'react'
import { decide, heard, NOBODY, type SpeakerState } from './speaker'

const FOLLOW_KEY = 'meshcall.follow'

/** Whether "follow the speaker" is on, remembered for the next call (off at first: the grid shows everyone). */
export function useFollowSetting(): [boolean, () => void] {
  const [on, setOn] = useState(() => localStorage.getItem(FOLLOW_KEY) === 'on')
  return [
    on,
    () =>
      setOn((was) => {
        localStorage.setItem(FOLLOW_KEY, was ? 'off' : 'on')
        return !was
      }),
  ]
}

/**
 * Who speaks, by tile key (`onSpeaking`, from each remote tile's speaking
 * ring), and who has the spotlight by the rules of `speaker.ts`, held off
 * and kept by a timer between changes. The speaker is tracked whether or
 * not the spotlight follows, so turning it on follows at once.
 */
export function useFollowSpeaker(present: readonly string[]): {
  speaker: string | null
  onSpeaking: (key: string, speaking: boolean) => void
} {
  const state = useRef<SpeakerState>(NOBODY)
  const timer = useRef<ReturnType<typeof setTimeout>>(undefined)
  const presentRef = useRef(present)
  presentRef.current = present
  const [speaker, setSpeaker] = useState<string | null>(null)
  const update = useCallback(() => {
    clearTimeout(timer.current)
    const { state: next, wakeAt } = decide(state.current, presentRef.current, Date.now())
    state.current = next
    setSpeaker(next.current)
    if (wakeAt !== null) timer.current = setTimeout(update, wakeAt - Date.now())
  }, [])
  const onSpeaking = useCallback(
    (key: string, speaking: boolean) => {
      state.current = heard(state.current, key, speaking, Date.now())
      update()
    },
    [update],
  )
  // Someone left: the spotlight is no longer theirs.
  const roster = present.join(' ')
  useEffect(update, [roster, update])
  useEffect(() => () => clearTimeout(timer.current), [])
  return { speaker, onSpeaking }
}
