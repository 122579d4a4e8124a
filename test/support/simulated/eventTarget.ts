/** The event plumbing every simulated WebRTC object shares. */
/** An `on<event>` handler property's value. */
export type Handler = ((event: Event) => unknown) | null

/** An EventTarget with `on<name>` handler properties. */
export class SimEventTarget extends EventTarget {
  private handlers = new Map<string, { handler: Handler; listener: (event: Event) => void }>()

  protected getHandler(name: string): Handler {
    return this.handlers.get(name)?.handler ?? null
  }

  protected setHandler(name: string, handler: Handler): void {
    const old = this.handlers.get(name)
    if (old) this.removeEventListener(name, old.listener)
    this.handlers.delete(name)
    if (typeof handler !== 'function') return
    const listener = (event: Event) => {
      handler.call(this, event)
    }
    this.handlers.set(name, { handler, listener })
    this.addEventListener(name, listener)
  }

  /** The user agent fires `name`, with `extra` as the event's fields; the helpers beside each class act as the user agent. */
  fire(name: string, extra?: Record<string, unknown>): void {
    const event = new Event(name)
    if (extra) Object.assign(event, extra)
    this.dispatchEvent(event)
  }
}
