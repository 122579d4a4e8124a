import { useState, useSyncExternalStore } from 'react'
import { useTranslation } from 'react-i18next'
import type { Recorder } from '../../../machines/inspect/recorder'
import { browserEnvironment } from './environment'
import { InspectorView, type InspectorData } from './InspectorView'

/**
 * The inspector in a call: the recorder's live contents, time travel by
 * selecting a timeline entry, and export of the session. Loaded lazily.
 */
export default function InspectorPanel({
  recorder,
  config,
  onClose,
}: {
  recorder: Recorder
  config: Record<string, unknown>
  onClose: () => void
}) {
  const { t } = useTranslation()
  useSyncExternalStore(recorder.subscribe, recorder.version)
  const [at, setAt] = useState<number | null>(null)
  const data: InspectorData = {
    actors: recorder.actors(),
    entries: recorder.entries(),
    latest: recorder.latest(),
    stats: recorder.stats(),
    descriptions: recorder.descriptions(),
    selfId: recorder.selfId(),
  }
  const exportDump = () => {
    const dump = recorder.dump(browserEnvironment(config))
    const blob = new Blob([JSON.stringify(dump)], { type: 'application/json' })
    const link = document.createElement('a')
    link.href = URL.createObjectURL(blob)
    link.download = `meshcall-${String(config.room ?? 'call')}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`
    link.click()
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000)
  }
  return (
    <aside className="inspector" data-testid="inspector" aria-label={t('inspector.title')}>
      <header>
        <h2>{t('inspector.title')}</h2>
        <span className="hint">
          {t('inspector.entries', { count: data.entries.length })} ·{' '}
          {t('inspector.peersWithStats', { count: Object.keys(data.stats).length })}
        </span>
        <button type="button" data-testid="export-dump" onClick={exportDump}>
          {t('inspector.export')}
        </button>
        <a className="button" href="/inspect" target="_blank" rel="noreferrer">
          {t('inspector.openDump')}
        </a>
        <button type="button" onClick={onClose} aria-label={t('inspector.close')} title={t('inspector.closeTitle')}>
          ✕
        </button>
      </header>
      <InspectorView data={data} at={at} onSelect={setAt} />
    </aside>
  )
}
