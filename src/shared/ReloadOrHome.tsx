import { useTranslation } from 'react-i18next'

/** The way out of a dead end: load the page again, or start over. */
export function ReloadOrHome({ reloadLabel }: { reloadLabel?: string }) {
  const { t } = useTranslation()
  return (
    <div className="row">
      <button type="button" className="primary" onClick={() => location.reload()}>
        {reloadLabel ?? t('common.reload')}
      </button>
      <a className="button" href="/">
        {t('common.home')}
      </a>
    </div>
  )
}
