import { lazy, Suspense } from 'react'
import { useTranslation } from 'react-i18next'
import { Route, Switch } from 'wouter'
import type { AppConfig } from '../config'
import { CallPage } from './call/CallPage'
import { HomePage } from '../features/home/HomePage'

const InspectPage = lazy(() => import('../features/inspector/InspectPage'))

export function App({ config }: { config: AppConfig }) {
  const { t } = useTranslation()
  return (
    <Switch>
      <Route path="/" component={HomePage} />
      <Route path="/inspect">
        <Suspense fallback={<main className="page center">{t('call.loadingInspector')}</main>}>
          <InspectPage />
        </Suspense>
      </Route>
      <Route path="/r/:room">{(params) => <CallPage key={params.room} room={params.room} config={config} />}</Route>
      <Route>
        <main className="page center">
          <h1>{t('notFound.title')}</h1>
          <a href="/">{t('notFound.link')}</a>
        </main>
      </Route>
    </Switch>
  )
}
