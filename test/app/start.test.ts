import { spawn, type ChildProcess } from 'node:child_process'
import { stripVTControlCharacters } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser } from 'playwright-core'
import { launchChromium } from '../support/browsers'
import { freePort } from '../support/roomServer'

const ROOT = new URL('../..', import.meta.url).pathname

let start: ChildProcess
let appPort: number
let partyPort: number
let output = ''
let browser: Browser

async function waitFor(url: string, timeoutMs: number): Promise<Response> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (start.exitCode !== null) throw new Error(`npm start exited with ${start.exitCode}:\n${output}`)
    try {
      const response = await fetch(url)
      if (response.ok) return response
    } catch {
      // not up yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms:\n${output}`)
}

async function closed(port: number): Promise<boolean> {
  return fetch(`http://127.0.0.1:${port}/`).then(
    () => false,
    () => true,
  )
}

beforeAll(async () => {
  ;[appPort, partyPort] = [await freePort(), await freePort()]
  start = spawn('npm', ['start'], {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, APP_PORT: String(appPort), PARTY_PORT: String(partyPort), PARTYKIT_DEV_BIND: '127.0.0.1' },
  })
  start.stdout?.on('data', (chunk) => (output += chunk))
  start.stderr?.on('data', (chunk) => (output += chunk))
  browser = await launchChromium()
})

afterAll(async () => {
  await browser?.close()
  if (start?.pid && start.exitCode === null) process.kill(-start.pid, 'SIGKILL')
})

describe('npm start', () => {
  it('serves the page and the room server from one origin, and Ctrl-C stops both', async () => {
    await waitFor(`http://127.0.0.1:${appPort}/`, 60_000)
    // The room server answers through the Vite proxy, on the app's origin.
    const status = await waitFor(`http://127.0.0.1:${appPort}/parties/main/smoke`, 60_000)
    expect(await status.json()).toMatchObject({ v: 1, peers: 0 })
    expect(stripVTControlCharacters(output)).toContain(`http://127.0.0.1:${appPort}/`)

    const home = await browser.newPage()
    await home.goto(`http://127.0.0.1:${appPort}/`)
    await home.getByTestId('create-room').click()
    await home.waitForURL(/\/r\/[a-z]+-[a-z]+-\d{3}$/)
    const room = new URL(home.url()).pathname.split('/')[2]
    await home.getByTestId('display-name').fill('First')
    await home.getByTestId('join').click()
    await home.getByTestId('local-tile').waitFor({ timeout: 20_000 })

    // A second window joins from the link and the two see each other connected.
    const second = await browser.newPage()
    await second.goto(`http://127.0.0.1:${appPort}/r/${room}`)
    await second.getByTestId('display-name').fill('Second')
    await second.getByTestId('join').click()
    for (const page of [home, second]) {
      await page
        .locator('[data-testid="remote-tile"][data-state="connected"]')
        .waitFor({ timeout: 30_000 })
        .catch(async (error) => {
          const tiles = await page.evaluate(() => document.body.innerText.slice(0, 400))
          throw new Error(`${error}\npage text: ${tiles}`)
        })
    }

    // Ctrl-C reaches the whole foreground process group.
    const exited = new Promise((resolve) => start.once('exit', resolve))
    process.kill(-(start.pid as number), 'SIGINT')
    await exited
    const deadline = Date.now() + 15_000
    while (Date.now() < deadline && !((await closed(appPort)) && (await closed(partyPort)))) {
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
    expect(await closed(appPort)).toBe(true)
    expect(await closed(partyPort)).toBe(true)
  }, 120_000)
})
