import { useEffect, useRef } from 'react'

const SHORTCUTS: [string, string][] = [
  ['M', 'Mute or unmute your microphone'],
  ['V', 'Start or stop your camera'],
  ['C', 'Open or close the chat'],
  ['I', 'Open or close the inspector'],
  ['?', 'Show these shortcuts'],
]

/** The keyboard shortcuts, in a modal dialog (`?`). */
export function ShortcutsHelp({ open, onClose }: { open: boolean; onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null)
  useEffect(() => {
    const dialog = ref.current
    if (!dialog) return
    if (open && !dialog.open) dialog.showModal()
    if (!open && dialog.open) dialog.close()
  }, [open])
  return (
    <dialog ref={ref} className="help" data-testid="shortcuts-help" aria-labelledby="shortcuts-title" onClose={onClose}>
      <h2 id="shortcuts-title">Keyboard shortcuts</h2>
      <dl>
        {SHORTCUTS.map(([key, what]) => (
          <div key={key}>
            <dt>
              <kbd>{key}</kbd>
            </dt>
            <dd>{what}</dd>
          </div>
        ))}
      </dl>
      <form method="dialog">
        <button type="submit" data-testid="shortcuts-close" autoFocus>
          Close
        </button>
      </form>
    </dialog>
  )
}
