import { describe, it } from 'vitest'
import { preflight } from './preflight'

/**
 * `describe` for a lab suite. Without root, `ip` or a lab tool it fails
 * with one line saying what is missing: the lab never stands down and never
 * passes silently, so a run that could not build it is a red run.
 */
export function describeLab(name: string, body: () => void): void {
  const { noLab, missingTools } = preflight()
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
