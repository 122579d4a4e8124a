const KEY = 'meshcall.relayOnly'

/** The "hide my IP address" setting from the last visit (default off). */
export function loadRelayOnly(): boolean {
  try {
    return localStorage.getItem(KEY) === 'true'
  } catch {
    return false
  }
}

export function saveRelayOnly(relayOnly: boolean): void {
  try {
    localStorage.setItem(KEY, String(relayOnly))
  } catch {
    // storage refused (private mode): the setting holds for this call only
  }
}
