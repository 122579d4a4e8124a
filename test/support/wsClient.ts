import WebSocket from 'ws'
import { parseServerMessage, type ClientMessage, type ServerMessage } from '../../protocol/messages'

type Of<T extends ServerMessage['type']> = Extract<ServerMessage, { type: T }>

/**
 * A raw protocol client for server tests: every frame it receives is
 * validated with the shared schema and kept in order, and tests wait for
 * the next one that matches, with a time limit.
 */
export class TestClient {
  readonly received: ServerMessage[] = []
  readonly invalid: string[] = []
  private cursor = 0
  private waiters = new Set<() => void>()
  /**
   * `endedByServer`: the server ended the TCP connection, rather than the
   * client giving up on it after its 1 s close timeout.
   */
  closed: { code: number; reason: string; endedByServer: boolean } | null = null
  private endedByServer = false

  private constructor(
    readonly socket: WebSocket,
    honest: boolean,
  ) {
    socket.on('message', (data) => {
      const parsed = parseServerMessage(data.toString())
      if (parsed.ok) this.received.push(parsed.message)
      else this.invalid.push(`${parsed.reason}: ${data.toString().slice(0, 200)}`)
      // As the protocol asks: a refused client closes its socket.
      if (honest && parsed.ok && parsed.message.type === 'error' && parsed.message.code === 'room-full') socket.close()
      this.wake()
    })
    socket.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString(), endedByServer: this.endedByServer }
      this.wake()
    })
  }

  /**
   * Opens a socket; rejects with the HTTP status if the upgrade is refused.
   * An honest client (the default) closes its socket when the room refuses
   * it, as meshcall's client does; `honest: false` stays until closed.
   */
  static connect(url: string, { honest = true }: { honest?: boolean } = {}): Promise<TestClient> {
    return new Promise((resolve, reject) => {
      // A client waits at most 1 s for the server to end the TCP connection
      // after the close handshake (`endedByServer` tells which happened).
      // (`closeTimeout` is a ws 8 option that @types/ws does not list.)
      const options: WebSocket.ClientOptions & { closeTimeout: number } = { closeTimeout: 1_000 }
      const socket = new WebSocket(url, options)
      let client: TestClient | undefined
      socket.once('upgrade', (response) => {
        response.socket.once('end', () => {
          if (client) client.endedByServer = true
        })
      })
      socket.once('open', () => resolve((client = new TestClient(socket, honest))))
      socket.once('unexpected-response', (_req, res) => {
        let body = ''
        res.on('data', (chunk) => (body += chunk))
        res.on('end', () => reject(new UpgradeRefused(res.statusCode ?? 0, body)))
      })
      socket.once('error', reject)
    })
  }

  /** Connects and waits for `welcome`. */
  static async join(url: string): Promise<{ client: TestClient; welcome: Of<'welcome'> }> {
    const client = await TestClient.connect(url)
    const welcome = await client.next('welcome')
    return { client, welcome }
  }

  send(message: ClientMessage | Record<string, unknown>): void {
    this.socket.send(JSON.stringify(message))
  }

  sendRaw(frame: string | Buffer): void {
    this.socket.send(frame)
  }

  /** The next unread message of `type` (skipping others), within `timeoutMs`. */
  async next<T extends ServerMessage['type']>(type: T, match: (message: Of<T>) => boolean = () => true, timeoutMs = 5_000): Promise<Of<T>> {
    const found = await this.until(
      () => {
        for (let i = this.cursor; i < this.received.length; i++) {
          const message = this.received[i]
          if (message.type === type && match(message as Of<T>)) {
            this.cursor = i + 1
            return message as Of<T>
          }
        }
        return undefined
      },
      timeoutMs,
      `a ${type} message`,
    )
    return found
  }

  /** Waits for the socket to close and returns its code. */
  async closedWith(timeoutMs = 5_000): Promise<NonNullable<TestClient['closed']>> {
    return this.until(() => this.closed ?? undefined, timeoutMs, 'the socket to close')
  }

  /**
   * Resolves with what `check` returns once it is not undefined, checking
   * again on every frame this socket receives and on its close, within `timeoutMs`.
   */
  waitFor<R>(check: () => R | undefined, timeoutMs = 5_000, what = 'a condition'): Promise<R> {
    return this.until(check, timeoutMs, what)
  }

  /** Forgets everything received so far. */
  clear(): void {
    this.received.length = 0
    this.cursor = 0
  }

  /** All messages of `type` received so far. */
  all<T extends ServerMessage['type']>(type: T): Of<T>[] {
    return this.received.filter((m): m is Of<T> => m.type === type)
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve()
    this.socket.close()
    return this.closedWith().then(() => undefined)
  }

  /** Drops the TCP connection without a close handshake, as a crash would. */
  terminate(): void {
    this.socket.terminate()
  }

  private until<R>(check: () => R | undefined, timeoutMs: number, what: string): Promise<R> {
    return new Promise((resolve, reject) => {
      // Not const: `attempt` may run (and clear it) before it is set.
      // eslint-disable-next-line prefer-const
      let timer: ReturnType<typeof setTimeout> | undefined
      const attempt = () => {
        const value = check()
        if (value === undefined) return false
        clearTimeout(timer)
        this.waiters.delete(attempt)
        resolve(value)
        return true
      }
      if (attempt()) return
      timer = setTimeout(() => {
        this.waiters.delete(attempt)
        const seen =
          this.received
            .slice(this.cursor)
            .map((m) => m.type)
            .join(', ') || 'nothing'
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; unread: ${seen}`))
      }, timeoutMs)
      this.waiters.add(attempt)
    })
  }

  private wake() {
    for (const waiter of [...this.waiters]) waiter()
  }
}

export class UpgradeRefused extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`upgrade refused with HTTP ${status}: ${body}`)
  }
}
