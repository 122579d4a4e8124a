/**
 * Polls `check` until it returns true (or a truthy value), failing after
 * `timeoutMs` with `what` and the last state `describe()` gives.
 */
export async function waitUntil<T>(
  check: () => T | Promise<T>,
  { timeoutMs = 20_000, what = 'condition', describe }: { timeoutMs?: number; what?: string; describe?: () => unknown } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value) return value as NonNullable<T>
    if (Date.now() > deadline) {
      const state = describe ? `\nlast state: ${JSON.stringify(describe(), null, 1)}` : ''
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${state}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}
