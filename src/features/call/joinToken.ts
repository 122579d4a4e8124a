/**
 * A join token arrives in the link (`?token=`). It is taken out of the
 * address bar at once, so it stays neither in the history nor in a copied
 * link, and kept for the tab's life (sessionStorage), so a reload still
 * gets in. Nothing sends it as a `Referer` either: the page's referrer
 * policy is `no-referrer` (index.html).
 */
const key = (room: string) => `meshcall.token.${room}`

export function takeJoinToken(room: string): string | undefined {
  const url = new URL(location.href)
  const fromLink = url.searchParams.get('token')
  if (fromLink !== null) {
    url.searchParams.delete('token')
    history.replaceState(history.state, '', url)
    try {
      sessionStorage.setItem(key(room), fromLink)
    } catch {
      // storage refused: a reload will need the link again
    }
    return fromLink || undefined
  }
  try {
    return sessionStorage.getItem(key(room)) ?? undefined
  } catch {
    return undefined
  }
}
