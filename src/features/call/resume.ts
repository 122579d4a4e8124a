/**
 * The identity a tab had in a room, kept for the tab's life (sessionStorage),
 * so a reload comes back as the same participant instead of leaving a ghost
 * for the grace period.
 */
const key = (room: string) => `meshcall.resume.${room}`

export function loadResume(room: string): { id: string; secret: string } | undefined {
  try {
    const raw = sessionStorage.getItem(key(room))
    const parsed: unknown = raw ? JSON.parse(raw) : null
    if (
      parsed &&
      typeof parsed === 'object' &&
      'id' in parsed &&
      'secret' in parsed &&
      typeof parsed.id === 'string' &&
      typeof parsed.secret === 'string'
    ) {
      return { id: parsed.id, secret: parsed.secret }
    }
  } catch {
    // unreadable or refused storage: join as someone new
  }
  return undefined
}

export function saveResume(room: string, identity: { id: string; secret: string } | null): void {
  try {
    if (identity) sessionStorage.setItem(key(room), JSON.stringify(identity))
    else sessionStorage.removeItem(key(room))
  } catch {
    // storage refused: a reload joins as someone new
  }
}
