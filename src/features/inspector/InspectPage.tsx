import { useState, type DragEvent } from 'react'
import { useTranslation } from 'react-i18next'
import { parseDump, type SessionDump } from '../../../machines/inspect/recorder'
import { InspectorView } from './InspectorView'

/** `/inspect`: replays an exported session, with no call running. */
export default function InspectPage() {
  const { t, i18n } = useTranslation()
  const [dump, setDump] = useState<SessionDump | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [index, setIndex] = useState<number | null>(null)

  const load = async (file: File | undefined) => {
    if (!file) return
    try {
      const parsed = parseDump(JSON.parse(await file.text()))
      setDump(parsed)
      setIndex(null)
      setError(null)
    } catch (e) {
      setError(e instanceof SyntaxError ? t('inspector.page.notJson', { message: e.message }) : e instanceof Error ? e.message : String(e))
    }
  }
  const onDrop = (event: DragEvent) => {
    event.preventDefault()
    void load(event.dataTransfer.files[0])
  }
  const entries = dump?.entries ?? []
  const at = index === null ? null : (entries[index]?.seq ?? null)

  return (
    <main className="inspect-page" onDragOver={(e) => e.preventDefault()} onDrop={onDrop}>
      <header>
        <h1>{t('inspector.page.title')}</h1>
        <label className="button">
          {t('inspector.page.choose')}
          <input
            type="file"
            accept="application/json,.json"
            data-testid="dump-file"
            className="visually-hidden"
            onChange={(e) => void load(e.target.files?.[0])}
          />
        </label>
        <span className="hint">{t('inspector.page.drop')}</span>
      </header>
      {error && (
        <p role="alert" className="hint error">
          {error}
        </p>
      )}
      {dump && (
        <>
          <p className="hint" data-testid="dump-summary">
            {[
              t('inspector.page.recorded', { date: new Date(dump.createdAt).toLocaleString(i18n.language) }),
              dump.environment.userAgent,
              t('inspector.page.actors', { count: dump.actors.length }),
              t('inspector.entries', { count: entries.length }),
            ].join(' · ')}
          </p>
          <label className="scrubber">
            {t('inspector.page.moment')}{' '}
            <input
              type="range"
              data-testid="scrubber"
              min={0}
              max={Math.max(0, entries.length - 1)}
              value={index ?? entries.length - 1}
              onChange={(e) => setIndex(Number(e.target.value))}
              aria-valuetext={at === null ? t('inspector.page.latest') : t('inspector.page.entry', { seq: at })}
            />
            <output>
              {index === null ? t('inspector.page.latest') : t('inspector.page.position', { seq: at, total: entries.length })}
            </output>
          </label>
          <InspectorView
            data={{ ...dump, latest: dump.latest }}
            at={at}
            onSelect={(seq) => setIndex(seq === null ? null : entries.findIndex((e) => e.seq === seq))}
          />
        </>
      )}
    </main>
  )
}
