const KEY = 'meshcall.displayName'

/** The display name from the last visit, if any. */
export function loadName(): string {
  try {
    return localStorage.getItem(KEY) ?? ''
  } catch {
    return ''
  }
}

export function saveName(name: string): void {
  try {
    localStorage.setItem(KEY, name)
  } catch {
    // storage refused (private mode): the name is simply not remembered
  }
}
