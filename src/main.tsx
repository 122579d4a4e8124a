import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { App } from './app/App'
import { ErrorBoundary } from './app/ErrorBoundary'
import { readConfig } from './config'
import './styles.css'

const root = createRoot(document.getElementById('root') as HTMLElement)
try {
  const config = readConfig()
  root.render(
    <StrictMode>
      <ErrorBoundary>
        <App config={config} />
      </ErrorBoundary>
    </StrictMode>,
  )
} catch (error) {
  root.render(
    <main className="page center">
      <h1>meshcall cannot start</h1>
      <p role="alert">{error instanceof Error ? error.message : String(error)}</p>
    </main>,
  )
}
