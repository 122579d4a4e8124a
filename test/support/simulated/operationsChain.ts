/**
 * webrtc-pc's operations chain ("chain an operation"): one operation at a
 * time, in call order, each checking the state when it runs rather than
 * when it was called.
 */
type Operation = { run: () => unknown; resolve: (value: unknown) => void; reject: (error: unknown) => void }

/** One connection's chain; `onEmpty` runs when the last operation settles. */
export class OperationsChain {
  private ops: Operation[] = []

  constructor(private readonly hooks: { closed(): boolean; onEmpty(): void }) {}

  /** Whether an operation is queued or running. */
  get busy(): boolean {
    return this.ops.length > 0
  }

  /** Queues `run`; the promise settles with its result. */
  enqueue<T>(run: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const op: Operation = { run, resolve: (value) => resolve(value as T), reject }
      this.ops.push(op)
      if (this.ops.length === 1) void this.execute(op)
    })
  }

  /** Drops every operation, rejecting each with `error()` (the connection closed). */
  rejectAll(error: () => unknown): void {
    const pending = this.ops.splice(0)
    for (const op of pending) op.reject(error())
  }

  private async execute(op: Operation): Promise<void> {
    // The operation works "in parallel": its result arrives a turn later.
    await Promise.resolve()
    if (this.ops[0] !== op) return
    let outcome: { ok: true; value: unknown } | { ok: false; error: unknown }
    try {
      outcome = { ok: true, value: op.run() }
    } catch (error) {
      outcome = { ok: false, error }
    }
    if (this.ops[0] !== op) return // closed meanwhile
    const settled = outcome.ok ? Promise.resolve(outcome.value) : Promise.reject(outcome.error)
    // The chain moves on in a reaction registered before the caller's.
    settled.then(
      () => this.next(),
      () => this.next(),
    )
    if (outcome.ok) op.resolve(outcome.value)
    else op.reject(outcome.error)
  }

  private next(): void {
    if (this.hooks.closed()) return
    this.ops.shift()
    const op = this.ops[0]
    if (op) {
      void this.execute(op)
      return
    }
    this.hooks.onEmpty()
  }
}
