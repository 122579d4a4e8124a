import { useEffect, useRef, useState } from 'react'
import type { SnapshotFrom } from 'xstate'
import type { roomMachine } from '../../../machines/roomMachine'
import { i18n } from '../../i18n'
import { CallContext } from '../../shared/callContext'

export type Toast = { id: number; text: string; tone: 'info' | 'error' }

/**
 * Short notices for joins, leaves and errors, announced to screen readers
 * through an aria-live region. Toasts are view state: they are derived from
 * changes between room snapshots, and disappear after a few seconds.
 */
export function useToasts() {
  const call = CallContext.useActorRef()
  const [toasts, setToasts] = useState<Toast[]>([])
  const next = useRef(0)

  const push = (text: string, tone: Toast['tone'] = 'info') => {
    const id = ++next.current
    setToasts((current) => [...current.slice(-4), { id, text, tone }])
    setTimeout(() => setToasts((current) => current.filter((t) => t.id !== id)), 5_000)
  }

  useEffect(() => {
    let previous: SnapshotFrom<typeof roomMachine> = call.getSnapshot()
    const previousTags = { reconnecting: previous.hasTag('reconnecting') }
    const subscription = call.subscribe((snapshot) => {
      const before = previous.context
      const now = snapshot.context
      previous = snapshot
      for (const [id, presence] of Object.entries(now.roster)) {
        if (!(id in before.roster)) push(i18n.t('toasts.joined', { name: presence.name }))
      }
      for (const [id, presence] of Object.entries(before.roster)) {
        if (!(id in now.roster)) push(i18n.t('toasts.left', { name: presence.name }))
      }
      if (now.serverErrors.length > before.serverErrors.length) {
        const latest = now.serverErrors[now.serverErrors.length - 1]
        if (latest.code !== 'unknown-peer') push(i18n.t('toasts.server', { message: latest.message }), 'error')
      }
      if (snapshot.hasTag('reconnecting') && !previousTags.reconnecting) push(i18n.t('toasts.lost'), 'error')
      if (snapshot.matches({ online: 'joined' }) && previousTags.reconnecting) push(i18n.t('toasts.reconnected'))
      previousTags.reconnecting = snapshot.hasTag('reconnecting')
    })
    return () => subscription.unsubscribe()
  }, [call])

  return { toasts, push }
}

export function Toasts({ toasts }: { toasts: Toast[] }) {
  return (
    <div className="toasts" role="status" aria-live="polite" aria-atomic="false">
      {toasts.map((toast) => (
        <p key={toast.id} className={`toast ${toast.tone}`}>
          {toast.text}
        </p>
      ))}
    </div>
  )
}
