import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { RoomStatus } from './RoomStatus'

// The call UI arrives with the call-app issue; until then the page joins the
// room named in the path (/r/NAME, default "lobby") and shows the roster.
const room = /^\/r\/([A-Za-z0-9_-]{1,64})/.exec(location.pathname)?.[1] ?? 'lobby'

createRoot(document.getElementById('root') as HTMLElement).render(
  <StrictMode>
    <RoomStatus room={room} />
  </StrictMode>,
)
