import { useModalDialog } from '../../shared/useModalDialog'
import { useTranslation } from 'react-i18next'
import { DevicePickers } from '../../shared/DevicePickers'

/** The microphone and camera pickers during the call, in a modal dialog (under More). */
export function DevicesDialog({ open, onClose }: { open: boolean; onClose: () => void }) {
  const { t } = useTranslation()
  const ref = useModalDialog(open)
  return (
    <dialog ref={ref} className="help devices" data-testid="devices-dialog" aria-labelledby="devices-title" onClose={onClose}>
      <h2 id="devices-title">{t('controls.devices')}</h2>
      <div className="settings">{open && <DevicePickers />}</div>
      <form method="dialog">
        <button type="submit" data-testid="devices-close">
          {t('common.close')}
        </button>
      </form>
    </dialog>
  )
}
