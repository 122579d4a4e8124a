import { useState, type FormEvent } from 'react'
import { useLocation } from 'wouter'
import { isValidRoomName } from '../../../protocol/messages'
import { randomRoomName } from './roomNames'

/** `/`: create a room with a random name, or go to one by name. */
export function HomePage() {
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
      <p className="lede">Video calls for up to six people, straight from a link. No accounts, no media server.</p>
      <button type="button" className="primary big" data-testid="create-room" onClick={() => navigate(`/r/${randomRoomName()}`)}>
        Create a room
      </button>
      <form className="join-form" onSubmit={join} aria-label="Join a room by name">
        <label htmlFor="room-name">Or join a room by name</label>
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
            Join
          </button>
        </div>
        <p id="room-name-help" className={invalid ? 'hint error' : 'hint'}>
          {invalid ? 'Use 1 to 64 letters, digits, - or _.' : 'Letters, digits, - and _.'}
        </p>
      </form>
    </main>
  )
}
