import { existsSync } from 'node:fs'
import { chromium, type Browser } from 'playwright-core'

/** Debian's chromium unless CHROME_PATH says otherwise. Nothing is downloaded. */
export const CHROME_PATH = process.env.CHROME_PATH ?? '/usr/bin/chromium'
/** Debian's firefox-esr unless FIREFOX_PATH says otherwise. */
export const FIREFOX_PATH = process.env.FIREFOX_PATH ?? '/usr/bin/firefox-esr'

/** Flags for headless Chromium with a fake camera and microphone, on a closed network. */
export const CHROMIUM_ARGS = [
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
]

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROME_PATH)) {
    throw new Error(`no Chromium at ${CHROME_PATH}: apt-get install chromium, or set CHROME_PATH`)
  }
  return chromium.launch({ executablePath: CHROME_PATH, headless: true, args: CHROMIUM_ARGS })
}
