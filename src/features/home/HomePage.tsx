import { useState, type FormEvent } from 'react'
import { useTranslation } from 'react-i18next'
import { useLocation } from 'wouter'
import { LanguageSwitch } from '../../i18n/LanguageSwitch'
import { isValidRoomName } from '../../../protocol/messages'
import { randomRoomName } from './roomNames'

/** `/`: create a room with a random name, or go to one by name. */
export function HomePage() {
  const { t } = useTranslation()
  const [, navigate] = useLocation()
  const [room, setRoom] = useState('')
  const trimmed = room.trim()
  const invalid = trimmed !== '' && !isValidRoomName(trimmed)

  const join = (event: FormEvent) => {
    event.preventDefault()
    if (trimmed && !invalid) navigate(`/r/${trimmed}`)
  }

  return (
    <main className="page center home">
      <h1 className="brand">meshcall</h1>
      <p className="lede">{t('home.lede')}</p>
      <button type="button" className="primary big" data-testid="create-room" onClick={() => navigate(`/r/${randomRoomName()}`)}>
        {t('home.create')}
      </button>
      <form className="join-form" onSubmit={join} aria-label={t('home.joinForm')}>
        <label htmlFor="room-name">{t('home.joinLabel')}</label>
        <div className="row">
          <input
            id="room-name"
            data-testid="room-name"
            value={room}
            onChange={(event) => setRoom(event.target.value)}
            placeholder="brave-otter-417"
            autoComplete="off"
            aria-invalid={invalid}
            aria-describedby="room-name-help"
          />
          <button type="submit" disabled={!trimmed || invalid}>
            {t('home.join')}
          </button>
        </div>
        <p id="room-name-help" className={invalid ? 'hint error' : 'hint'}>
          {invalid ? t('home.invalid') : t('home.help')}
        </p>
      </form>
      <LanguageSwitch />
    </main>
  )
}
