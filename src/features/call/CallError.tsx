import { useTranslation } from 'react-i18next'
import { ReloadOrHome } from '../../shared/ReloadOrHome'
import { CallContext } from '../../shared/callContext'

const ADVICE = {
  'room-full': { key: 'roomFull', retry: true },
  unauthorized: { key: 'unauthorized', retry: false },
  unreachable: { key: 'unreachable', retry: true },
} as const

/** The failures a person can act on, each with what to do. */
export function CallError() {
  const { t } = useTranslation()
  const call = CallContext.useActorRef()
  const failure = CallContext.useSelector((s) => s.context.failure)
  const maxPeers = CallContext.useSelector((s) => s.context.maxPeers)
  const canRetry = CallContext.useSelector((s) => s.can({ type: 'ui.retry' }))
  const code = failure?.reason ?? 'unreachable'
  const advice = ADVICE[code]
  return (
    <main className="page center" data-testid="call-error" data-code={code} role="alert">
      <h1>{t(`errors.${advice.key}.title`)}</h1>
      <p>{t(`errors.${advice.key}.text`, { max: maxPeers ?? 6 })}</p>
      {failure?.message && <p className="hint">{t('errors.serverSaid', { message: failure.message })}</p>}
      <div className="row">
        {advice.retry && (
          <button type="button" className="primary" disabled={!canRetry} onClick={() => call.send({ type: 'ui.retry' })}>
            {t('common.tryAgain')}
          </button>
        )}
        <a className="button" href="/">
          {t('errors.newRoom')}
        </a>
      </div>
    </main>
  )
}

export function LeftScreen() {
  const { t } = useTranslation()
  return (
    <main className="page center" data-testid="left">
      <h1>{t('errors.left')}</h1>
      <ReloadOrHome reloadLabel={t('errors.rejoin')} />
    </main>
  )
}
