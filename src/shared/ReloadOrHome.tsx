/** The way out of a dead end: load the page again, or start over. */
export function ReloadOrHome({ reloadLabel = 'Reload' }: { reloadLabel?: string }) {
  return (
    <div className="row">
      <button type="button" className="primary" onClick={() => location.reload()}>
        {reloadLabel}
      </button>
      <a className="button" href="/">
        Home
      </a>
    </div>
  )
}
