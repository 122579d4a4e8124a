/** The event plumbing every simulated WebRTC object shares. */
/** An `on<event>` handler property's value. */
export type Handler = ((event: Event) => unknown) | null

/** An EventTarget with `on<name>` handler properties. */
export class SimEventTarget extends EventTarget {
  private handlers = new Map<string, { handler: Handler; listener: (event: Event) => void }>()

  getHandler(name: string): Handler {
    return this.handlers.get(name)?.handler ?? null
  }

  setHandler(name: string, handler: Handler): void {
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

/**
 * Defines the `on<name>` event handler attributes of a simulated class on
 * its prototype (declare them on the class for their types), as WebIDL's
 * EventHandler attributes: setting one replaces the previous handler.
 *
 * @example
 * class Channel extends SimEventTarget {
 *   declare onopen: Handler
 *   static { defineHandlers(this.prototype, ['open']) }
 * }
 */
export function defineHandlers(prototype: SimEventTarget, names: readonly string[]): void {
  for (const name of names) {
    Object.defineProperty(prototype, `on${name}`, {
      get(this: SimEventTarget) {
        return this.getHandler(name)
      },
      set(this: SimEventTarget, handler: Handler) {
        this.setHandler(name, handler)
      },
      configurable: true,
    })
  }
}
