import { Component, type ReactNode } from 'react'
import { i18n } from '../i18n'
import { ReloadOrHome } from '../shared/ReloadOrHome'

/** Shows what went wrong instead of a blank page, with a way back. */
export class ErrorBoundary extends Component<{ children: ReactNode }, { error: Error | null }> {
  override state: { error: Error | null } = { error: null }

  static getDerivedStateFromError(error: Error) {
    return { error }
  }

  override render() {
    if (!this.state.error) return this.props.children
    return (
      <main className="page center" role="alert" data-testid="app-error">
        <h1>{i18n.t('errors.crashed')}</h1>
        <p className="hint">{this.state.error.message}</p>
        <ReloadOrHome />
      </main>
    )
  }
}
