import { useModalDialog } from '../../shared/useModalDialog'
import { useTranslation } from 'react-i18next'

const SHORTCUTS = [
  ['M', 'mic'],
  ['V', 'camera'],
  ['C', 'chat'],
  ['I', 'inspector'],
  ['?', 'help'],
] as const

/** The keyboard shortcuts, in a modal dialog (`?`). */
export function ShortcutsHelp({ open, onClose }: { open: boolean; onClose: () => void }) {
  const { t } = useTranslation()
  const ref = useModalDialog(open)
  return (
    <dialog ref={ref} className="help" data-testid="shortcuts-help" aria-labelledby="shortcuts-title" onClose={onClose}>
      <h2 id="shortcuts-title">{t('help.title')}</h2>
      <dl>
        {SHORTCUTS.map(([key, what]) => (
          <div key={key}>
            <dt>
              <kbd>{key}</kbd>
            </dt>
            <dd>{t(`help.${what}`)}</dd>
          </div>
        ))}
      </dl>
      <form method="dialog">
        <button type="submit" data-testid="shortcuts-close" autoFocus>
          {t('common.close')}
        </button>
      </form>
    </dialog>
  )
}
