import { describe, it } from 'vitest'
import { preflight } from './preflight'

/**
 * `describe` for a lab suite. Without root or `ip` it fails with one line
 * saying what is missing; only when `CI` is unset does it stand down
 * instead, skipped, with a loud message. Missing lab tools always fail. It
 * never passes silently.
 */
export function describeLab(name: string, body: () => void): void {
  const { noLab, missingTools } = preflight()
  if (noLab && !process.env.CI) {
    process.stderr.write(`\n!!! NETLAB SKIPPED: ${noLab}. Run as root, or set CI=1 to make this a failure. !!!\n\n`)
    describe.skip(name, body)
    return
  }
  const missing = noLab ?? missingTools
  if (missing) {
    describe(name, () => {
      it('has what the network lab needs', () => {
        throw new Error(missing)
      })
    })
    return
  }
  describe(name, body)
}
