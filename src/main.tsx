import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { App } from './app/App'
import { ErrorBoundary } from './app/ErrorBoundary'
import { readConfig } from './config'
import './i18n'
import './styles.css'

const container = document.getElementById('root')
if (!container) throw new Error('index.html has no #root element')
const root = createRoot(container)
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
