import { useCallback, useSyncExternalStore } from 'react'
import { useRecorder } from '../../shared/inspection'

/** How a pair's media travels: straight between the two, or through the TURN server. */
export type Route = { kind: 'direct' | 'relayed'; detail: string }

/**
 * The route of the pair with `peerId`, from the latest stats sample the
 * call's recorder holds (polled once a second): null until ICE has selected
 * a candidate pair. The component renders only when the route changes.
 */
export function useRoute(peerId: string): Route | null {
  const recorder = useRecorder()
  const key = useSyncExternalStore(
    recorder.subscribe,
    useCallback(() => {
      const pair = recorder.stats()[peerId]?.at(-1)?.pair
      if (!pair) return ''
      const relayed = pair.localType === 'relay' || pair.remoteType === 'relay'
      const via = pair.relayProtocol ? ` (to the relay over ${pair.relayProtocol})` : ''
      return `${relayed ? 'relayed' : 'direct'}|${pair.localType} → ${pair.remoteType} over ${pair.protocol}${via}`
    }, [recorder, peerId]),
  )
  if (!key) return null
  const [kind, detail] = key.split('|')
  return { kind: kind === 'relayed' ? 'relayed' : 'direct', detail }
}
