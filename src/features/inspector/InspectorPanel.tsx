import { useState, useSyncExternalStore } from 'react'
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
    <aside className="inspector" data-testid="inspector" aria-label="Inspector">
      <header>
        <h2>Inspector</h2>
        <span className="hint">
          {data.entries.length} entries · {Object.keys(data.stats).length} peers with stats
        </span>
        <button type="button" data-testid="export-dump" onClick={exportDump}>
          Export session
        </button>
        <a className="button" href="/inspect" target="_blank" rel="noreferrer">
          Open a dump…
        </a>
        <button type="button" onClick={onClose} aria-label="Close the inspector" title="Close (I)">
          ✕
        </button>
      </header>
      <InspectorView data={data} at={at} onSelect={setAt} />
    </aside>
  )
}
