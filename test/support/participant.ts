import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Browser as ChromiumBrowser, BrowserContext as ChromiumContext, Page as ChromiumPage } from 'playwright-core'
import type { Browser as FirefoxBrowser, BrowserContext as FirefoxContext, KeyInput, Page as FirefoxPage } from 'puppeteer-core'
import { afterEach } from 'vitest'
import { launchChromium, launchFirefox } from './browsers'

export type BrowserKind = 'chromium' | 'firefox'

/**
 * `attached`: at least one element matches; `detached`: none does;
 * `visible`: at least one matching element is rendered; `hidden`: none is.
 */
export type WaitState = 'attached' | 'detached' | 'visible' | 'hidden'

/** The engine's own page, for the rare step the helpers do not cover. */
export type RawPage = { kind: 'chromium'; page: ChromiumPage } | { kind: 'firefox'; page: FirefoxPage }

export const ARTIFACTS_DIR = fileURLToPath(new URL('../artifacts/', import.meta.url))

// A deadline for a step that is expected to succeed, not a speed claim: a
// page decoding three videos in software can be slow to answer a click.
const DEFAULT_TIMEOUT_MS = 20_000
const VIEWPORT = { width: 1280, height: 720 }
const MAX_LOG_LINES = 2_000

const safeName = (name: string) => name.replace(/[^\w.-]+/g, '_')
const byTestId = (testId: string) => `[data-testid="${testId.replace(/["\\]/g, '\\$&')}"]`

/**
 * A function serialised into the page. Its argument and result cross as JSON,
 * so their types are only as good as the caller's word: the facade below keeps
 * the caller's types and this boundary stays untyped.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above
type PageFn = (arg: any) => unknown

/** What each engine must provide; everything else is built on it once. */
type Driver = {
  raw: RawPage
  goto(url: string): Promise<void>
  reload(): Promise<void>
  click(selector: string, timeoutMs: number): Promise<void>
  fill(selector: string, text: string, timeoutMs: number): Promise<void>
  select(selector: string, value: string, timeoutMs: number): Promise<void>
  press(key: string): Promise<void>
  evaluate(fn: PageFn, arg: unknown): Promise<unknown>
  waitForFunction(fn: PageFn, arg: unknown, timeoutMs: number): Promise<void>
  screenshot(path: string): Promise<void>
  onLog(sink: (line: string) => void): void
  close(): Promise<void>
}

function chromiumDriver(context: ChromiumContext, page: ChromiumPage): Driver {
  return {
    raw: { kind: 'chromium', page },
    goto: async (url) => void (await page.goto(url)),
    reload: async () => void (await page.reload()),
    click: (selector, timeout) => page.locator(selector).first().click({ timeout }),
    fill: (selector, text, timeout) => page.locator(selector).first().fill(text, { timeout }),
    select: async (selector, value, timeout) => void (await page.locator(selector).first().selectOption(value, { timeout })),
    press: (key) => page.keyboard.press(key),
    evaluate: (fn, arg) => page.evaluate(fn, arg),
    waitForFunction: async (fn, arg, timeout) => void (await page.waitForFunction(fn, arg, { timeout, polling: 100 })),
    screenshot: async (path) => void (await page.screenshot({ path })),
    onLog: (sink) => {
      // Playwright says "warning" where puppeteer (and the console API) say "warn".
      page.on('console', (message) => sink(`[${message.type().replace('warning', 'warn')}] ${message.text()}`))
      page.on('pageerror', (error) => sink(`[pageerror] ${error.stack ?? error.message}`))
      page.on('crash', () => sink('[crash] the page crashed'))
    },
    close: () => context.close(),
  }
}

function firefoxDriver(context: FirefoxContext, page: FirefoxPage): Driver {
  return {
    raw: { kind: 'firefox', page },
    goto: async (url) => void (await page.goto(url)),
    reload: async () => void (await page.reload()),
    click: (selector, timeout) => page.locator(selector).setTimeout(timeout).click(),
    fill: (selector, text, timeout) => page.locator(selector).setTimeout(timeout).fill(text),
    select: async (selector, value, timeout) => {
      await page.waitForSelector(selector, { timeout })
      await page.select(selector, value)
    },
    // Playwright's "Shift+Enter" chords, which puppeteer's keyboard does not parse.
    press: async (chord) => {
      const keys = chord.split(/\+(?!$)/) as KeyInput[]
      const key = keys.pop() as KeyInput
      for (const modifier of keys) await page.keyboard.down(modifier)
      await page.keyboard.press(key)
      for (const modifier of keys.reverse()) await page.keyboard.up(modifier)
    },
    evaluate: (fn, arg) => page.evaluate(fn, arg),
    waitForFunction: async (fn, arg, timeout) => void (await page.waitForFunction(fn, { timeout, polling: 100 }, arg)),
    screenshot: async (path) => void (await page.screenshot({ path: path as `${string}.png` })),
    onLog: (sink) => {
      page.on('console', (message) => sink(`[${message.type()}] ${message.text()}`))
      page.on('pageerror', (error) => sink(`[pageerror] ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`))
    },
    close: () => context.close(),
  }
}

// One browser process per kind for the whole test file; participants get their own context.
// Firefox's language is its process's: one process per language asked for ('' for the default).
const launched: { chromium?: Promise<ChromiumBrowser>; firefox: Map<string, Promise<FirefoxBrowser>> } = { firefox: new Map() }
const open = new Set<Participant>()
const counters: Record<BrowserKind, number> = { chromium: 0, firefox: 0 }

function sharedChromium(): Promise<ChromiumBrowser> {
  launched.chromium ??= launchChromium().catch((error: unknown) => {
    launched.chromium = undefined
    throw error
  })
  return launched.chromium
}

function sharedFirefox(locale = ''): Promise<FirefoxBrowser> {
  let browser = launched.firefox.get(locale)
  if (!browser) {
    browser = launchFirefox({ locale: locale || undefined }).catch((error: unknown) => {
      launched.firefox.delete(locale)
      throw error
    })
    launched.firefox.set(locale, browser)
  }
  return browser
}

/**
 * Scripts run by tsx (esbuild with keepNames) wrap named functions in
 * `__name()`, and a function sent to a page carries those calls with it.
 */
const NAME_SHIM = 'globalThis.__name = (f) => f'

/**
 * A phone as Chromium's mobile emulation makes one: its viewport, touch, a
 * phone's user agent, and no `getDisplayMedia` (no phone browser can share
 * a screen; desktop Chromium's emulation still could).
 */
const PHONE = {
  viewport: { width: 390, height: 844 },
  deviceScaleFactor: 3,
  isMobile: true,
  hasTouch: true,
  userAgent: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Mobile Safari/537.36',
}
const NO_SCREEN_SHARING = 'delete MediaDevices.prototype.getDisplayMedia'

/** How a participant's browser presents itself: a phone, and the language it asks for. */
export type OpenOptions = { name?: string; device?: 'phone'; locale?: string }

async function newDriver(kind: BrowserKind, { device, locale }: OpenOptions = {}): Promise<Driver> {
  if (kind === 'chromium') {
    const context = await (
      await sharedChromium()
    ).newContext({
      ...(device === 'phone' ? PHONE : { viewport: VIEWPORT }),
      ...(locale ? { locale } : {}),
    })
    await context.addInitScript({ content: NAME_SHIM })
    if (device === 'phone') await context.addInitScript({ content: NO_SCREEN_SHARING })
    return chromiumDriver(context, await context.newPage())
  }
  if (device) throw new Error('openParticipant: a phone is only emulated in Chromium')
  const context = await (await sharedFirefox(locale)).createBrowserContext()
  // A window, not a tab: Firefox hides background tabs and throttles their timers to ~1 Hz.
  const page = await context.newPage({ type: 'window' })
  await page.evaluateOnNewDocument(NAME_SHIM)
  await page.setViewport(VIEWPORT)
  return firefoxDriver(context, page)
}

/**
 * One call participant: an isolated browser context (its own storage, its own
 * fake camera) in a browser process shared with the other participants of the
 * same kind. Every helper reads the same in Chromium and Firefox and addresses
 * elements by `data-testid`.
 */
export class Participant {
  private readonly lines: string[] = []
  private closed = false

  constructor(
    readonly kind: BrowserKind,
    readonly name: string,
    private readonly driver: Driver,
  ) {
    driver.onLog((line) => {
      this.lines.push(line)
      if (this.lines.length > MAX_LOG_LINES) this.lines.shift()
    })
  }

  /** The engine's page (playwright's or puppeteer's), tagged with its kind. */
  get raw(): RawPage {
    return this.driver.raw
  }

  /** Console messages and uncaught errors so far, oldest first. */
  logs(): readonly string[] {
    return this.lines
  }

  goto(url: string): Promise<void> {
    return this.step(`go to ${url}`, () => this.driver.goto(url))
  }

  reload(): Promise<void> {
    return this.step('reload', () => this.driver.reload())
  }

  /** Clicks the first element with this test id once it is visible and enabled. */
  click(testId: string, { timeoutMs = DEFAULT_TIMEOUT_MS } = {}): Promise<void> {
    return this.step(`click ${byTestId(testId)}`, () => this.driver.click(byTestId(testId), timeoutMs))
  }

  /** Replaces the value of the first input with this test id. */
  fill(testId: string, text: string, { timeoutMs = DEFAULT_TIMEOUT_MS } = {}): Promise<void> {
    return this.step(`fill ${byTestId(testId)}`, () => this.driver.fill(byTestId(testId), text, timeoutMs))
  }

  /** Presses a key, or a chord such as `Shift+Enter`, in the focused element. */
  /** Picks the option whose value is `value` in a `<select>`, as a person does. */
  select(testId: string, value: string, { timeoutMs = DEFAULT_TIMEOUT_MS } = {}): Promise<void> {
    return this.step(`select ${value} in ${byTestId(testId)}`, () => this.driver.select(byTestId(testId), value, timeoutMs))
  }

  press(key: string): Promise<void> {
    return this.step(`press ${key}`, () => this.driver.press(key))
  }

  /** How many elements carry this test id right now. */
  count(testId: string): Promise<number> {
    return this.evaluate((selector: string) => document.querySelectorAll(selector).length, byTestId(testId))
  }

  /**
   * An attribute of the `index`-th element with this test id (null when the
   * attribute is absent). Throws when there is no such element.
   */
  async attr(testId: string, name: string, index = 0): Promise<string | null> {
    type Found = { found: true; value: string | null } | { found: false; count: number }
    const found = await this.evaluate(
      ({ selector, name, index }: { selector: string; name: string; index: number }): Found => {
        const elements = document.querySelectorAll(selector)
        const element = elements[index]
        return element ? { found: true, value: element.getAttribute(name) } : { found: false, count: elements.length }
      },
      { selector: byTestId(testId), name, index },
    )
    if (found.found) return found.value
    throw new Error(`${this}: no ${byTestId(testId)} at index ${index} (there are ${found.count})`)
  }

  /** Waits until elements with this test id reach `state` (default `visible`). */
  async waitForTestId(
    testId: string,
    { state = 'visible', timeoutMs = DEFAULT_TIMEOUT_MS }: { state?: WaitState; timeoutMs?: number } = {},
  ) {
    const selector = byTestId(testId)
    const reached = ({ selector, state }: { selector: string; state: WaitState }) => {
      const elements = [...document.querySelectorAll(selector)]
      // `checkVisibility` is false for display:none, detached and zero-size-by-ancestor cases alike.
      const visible = elements.some((element) => element.checkVisibility())
      if (state === 'attached') return elements.length > 0
      if (state === 'detached') return elements.length === 0
      return state === 'visible' ? visible : !visible
    }
    try {
      await this.driver.waitForFunction(reached, { selector, state }, timeoutMs)
    } catch (error) {
      const seen = await this.count(testId).catch(() => 'unknown')
      throw new Error(`${this}: ${selector} was not ${state} within ${timeoutMs} ms (${seen} present)`, { cause: error })
    }
  }

  /**
   * Waits until `fn`, run in the page every 100 ms, returns something truthy.
   * `fn` is serialised: it cannot use anything from the test's scope.
   */
  async waitFor(fn: () => unknown, timeoutMs = DEFAULT_TIMEOUT_MS, what = 'condition'): Promise<void> {
    try {
      await this.driver.waitForFunction(fn, undefined, timeoutMs)
    } catch (error) {
      throw new Error(`${this}: ${what} did not hold within ${timeoutMs} ms: ${fn}`, { cause: error })
    }
  }

  /**
   * Runs `fn` in the page and returns its (JSON-serialisable) result. `fn` is
   * serialised, so pass what it needs as `arg`.
   *
   * @example
   * await alice.evaluate((offer) => pc.setRemoteDescription(offer), offer)
   */
  evaluate<R>(fn: () => R | Promise<R>): Promise<R>
  evaluate<R, A>(fn: (arg: A) => R | Promise<R>, arg: A): Promise<R>
  evaluate<R, A>(fn: (arg: A) => R | Promise<R>, arg?: A): Promise<R> {
    return this.driver.evaluate(fn, arg) as Promise<R>
  }

  screenshot(path: string): Promise<void> {
    return this.driver.screenshot(path)
  }

  /** Closes this participant's context (its page, storage and media). */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    open.delete(this)
    await this.driver.close()
  }

  toString(): string {
    return `${this.name} (${this.kind})`
  }

  private async step(what: string, action: () => Promise<void>): Promise<void> {
    try {
      await action()
    } catch (error) {
      const reason = error instanceof Error ? error.message.split('\n')[0] : String(error)
      throw new Error(`${this}: could not ${what}: ${reason}`, { cause: error })
    }
  }
}

/**
 * Opens a participant in `kind`'s shared browser, at `url` if given.
 *
 * @example
 * const alice = await openParticipant('chromium', app.roomUrl('r1'), { name: 'alice' })
 * const bob = await openParticipant('firefox', app.roomUrl('r1'), { name: 'bob' })
 * await alice.fill('display-name', 'Alice')
 * await alice.click('join')
 * await bob.waitForTestId('remote-tile')
 */
export async function openParticipant(kind: BrowserKind, url?: string, options: OpenOptions = {}): Promise<Participant> {
  const participant = new Participant(kind, options.name ?? `${kind}-${++counters[kind]}`, await newDriver(kind, options))
  open.add(participant)
  if (url) await participant.goto(url)
  return participant
}

/** The participants not yet closed, in the order they were opened. */
export function openParticipants(): readonly Participant[] {
  return [...open]
}

/**
 * Saves a screenshot and the console log of every open participant under
 * `test/artifacts/<test name>/`, and returns the files written. Never throws:
 * a page that cannot be captured gets a note in its log instead.
 */
export async function saveArtifacts(testName: string): Promise<string[]> {
  const dir = join(ARTIFACTS_DIR, safeName(testName.replace(/\s+>\s+/g, '--')).slice(0, 150))
  mkdirSync(dir, { recursive: true })
  const written: string[] = []
  for (const participant of open) {
    const base = join(dir, safeName(participant.name))
    const notes: string[] = []
    try {
      await participant.screenshot(`${base}.png`)
      written.push(`${base}.png`)
    } catch (error) {
      notes.push(`[harness] no screenshot: ${error instanceof Error ? error.message : String(error)}`)
    }
    writeFileSync(`${base}.log`, [...participant.logs(), ...notes].join('\n') + '\n')
    written.push(`${base}.log`)
  }
  return written
}

/**
 * Registers an `afterEach` that saves artifacts when the test failed. Call it
 * at the top of the file; close participants in `afterAll` (or at the end of
 * the test body), since `afterEach` hooks registered later run before this one.
 */
export function saveArtifactsOnFailure(): void {
  afterEach(async ({ task }) => {
    if (task.result?.state === 'fail') await saveArtifacts(task.fullName)
  })
}

/** Closes every participant and the shared browsers. Call it in `afterAll`. */
export async function closeBrowsers(): Promise<void> {
  await Promise.allSettled([...open].map((participant) => participant.close()))
  const { chromium } = launched
  const firefoxes = [...launched.firefox.values()]
  launched.chromium = undefined
  launched.firefox.clear()
  await Promise.allSettled([chromium?.then((browser) => browser.close()), ...firefoxes.map((f) => f.then((browser) => browser.close()))])
}
