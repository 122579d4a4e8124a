import { lazy, Suspense } from 'react'
import { Route, Switch } from 'wouter'
import type { AppConfig } from '../config'
import { CallPage } from './call/CallPage'
import { HomePage } from '../features/home/HomePage'

const InspectPage = lazy(() => import('../features/inspector/InspectPage'))

export function App({ config }: { config: AppConfig }) {
  return (
    <Switch>
      <Route path="/" component={HomePage} />
      <Route path="/inspect">
        <Suspense fallback={<main className="page center">Loading the inspector…</main>}>
          <InspectPage />
        </Suspense>
      </Route>
      <Route path="/r/:room">{(params) => <CallPage key={params.room} room={params.room} config={config} />}</Route>
      <Route>
        <main className="page center">
          <h1>Page not found</h1>
          <a href="/">Start or join a call</a>
        </main>
      </Route>
    </Switch>
  )
}
