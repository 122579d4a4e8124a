/**
 * What an avatar shows for a person without video: the first letters of the
 * first and last words of their name, or the first two of a one-word name.
 *
 * @example
 * initials('Ada Lovelace') // 'AL'
 * initials('bob') // 'BO'
 */
export function initials(name: string): string {
  const parts = name.trim().split(/\s+/).filter(Boolean)
  return (parts.length === 0 ? '?' : parts.length === 1 ? parts[0].slice(0, 2) : parts[0][0] + parts[parts.length - 1][0]).toUpperCase()
}
