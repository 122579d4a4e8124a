import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type Browser } from 'playwright-core'
import puppeteer, { type Browser as FirefoxBrowser } from 'puppeteer-core'

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
  // Chrome never gathers 127.0.0.1 candidates otherwise, so two browsers on a
  // host whose only interface is loopback (a CI sandbox) cannot connect.
  '--allow-loopback-in-peer-connection',
]

/**
 * Preferences for headless Firefox as a call participant on a closed network.
 * Puppeteer's own automation profile already covers start-up pages, update
 * checks and most phoning home; these add media and ICE, and switch off what
 * would otherwise try the network.
 */
export const FIREFOX_PREFS: Record<string, string | number | boolean> = {
  // A synthetic camera (moving colour frames) and microphone (a tone), with no prompt.
  'media.navigator.streams.fake': true,
  'media.navigator.permission.disabled': true,
  // Firefox gathers only the default route's address, mDNS-obfuscated, unless the
  // page holds a camera or microphone *permission*; `permission.disabled` above
  // grants nothing (PeerConnectionMedia::GetPrefDefaultAddressOnly). "Allow" by
  // default lets every interface, loopback included, be gathered in the clear.
  'permissions.default.camera': 1,
  'permissions.default.microphone': 1,
  // nICEr drops loopback addresses unless told otherwise; needed on loopback-only hosts.
  'media.peerconnection.ice.loopback': true,
  // Candidates carry plain IPs, never mDNS .local names, whatever the permission state.
  'media.peerconnection.ice.obfuscate_host_addresses': false,
  // Participants share one Firefox and only one window has focus; Firefox
  // holds enumerateDevices() in unfocused documents until they get it (the
  // Media Capture spec's "has focus" step), which never happens here.
  'media.devices.unfocused.enabled': true,
  // The picture-in-picture toggle (and its first-run callout) sits on every
  // playing <video>: it spoils screenshots and can take clicks meant for a tile.
  'media.videocontrols.picture-in-picture.enabled': false,
  'media.videocontrols.picture-in-picture.video-toggle.enabled': false,
  // Nothing that downloads: updates, the OpenH264 plugin, add-ons, experiments.
  // (Puppeteer already points remote settings at a dummy host.)
  'app.update.enabled': false,
  'app.update.auto': false,
  'media.gmp-manager.updateEnabled': false,
  'media.gmp-gmpopenh264.autoupdate': false,
  'extensions.update.enabled': false,
  'extensions.systemAddon.update.enabled': false,
  'extensions.blocklist.enabled': false,
  'messaging-system.rsexperimentloader.enabled': false,
  'app.normandy.enabled': false,
  'app.shield.optoutstudies.enabled': false,
  'browser.region.update.enabled': false,
  'browser.region.network.url': '',
  'browser.search.update': false,
  // Connectivity probes.
  'network.captive-portal-service.enabled': false,
  'network.connectivity-service.enabled': false,
  'network.trr.mode': 5,
  // Safe Browsing lists.
  'browser.safebrowsing.malware.enabled': false,
  'browser.safebrowsing.phishing.enabled': false,
  'browser.safebrowsing.downloads.enabled': false,
  'browser.safebrowsing.downloads.remote.enabled': false,
  'browser.safebrowsing.blockedURIs.enabled': false,
  'browser.safebrowsing.provider.mozilla.updateURL': '',
  'browser.safebrowsing.provider.google4.updateURL': '',
  // Telemetry and health reports.
  'datareporting.policy.dataSubmissionEnabled': false,
  'datareporting.healthreport.uploadEnabled': false,
  'toolkit.telemetry.enabled': false,
  'toolkit.telemetry.unified': false,
  'toolkit.telemetry.archive.enabled': false,
  'toolkit.telemetry.server': '',
  'browser.ping-centre.telemetry': false,
  'browser.newtabpage.activity-stream.feeds.telemetry': false,
  // Speculative connections and prefetching.
  'network.prefetch-next': false,
  'network.dns.disablePrefetch': true,
  'network.predictor.enabled': false,
  'network.http.speculative-parallel-limit': 0,
  'browser.urlbar.speculativeConnect.enabled': false,
}

/**
 * Launches headless Debian Chromium through playwright-core, with a fake camera,
 * microphone and screen (getDisplayMedia answers with a 1280x720 "screen").
 */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROME_PATH)) {
    throw new Error(`no Chromium at ${CHROME_PATH}: apt-get install chromium, or set CHROME_PATH`)
  }
  return chromium.launch({ executablePath: CHROME_PATH, headless: true, args: CHROMIUM_ARGS })
}

/**
 * Launches headless Debian Firefox ESR through puppeteer-core over WebDriver
 * BiDi, with a fresh profile that is deleted when the browser process exits.
 * With `locale` (`fr-FR`), its pages ask for that language first
 * (`navigator.language`, `Accept-Language`).
 *
 * Open participants with `context.newPage({ type: 'window' })`: Firefox tabs
 * other than the selected one are hidden, get no animation frames and have their
 * timers throttled to about one a second. There is no fake screen:
 * getDisplayMedia() rejects with NotFoundError, so screen sharing is Chromium's.
 */
export async function launchFirefox({ locale }: { locale?: string } = {}): Promise<FirefoxBrowser> {
  if (!existsSync(FIREFOX_PATH)) {
    throw new Error(`no Firefox at ${FIREFOX_PATH}: apt-get install firefox-esr, or set FIREFOX_PATH`)
  }
  const profile = mkdtempSync(join(tmpdir(), 'meshcall-firefox-'))
  const removeProfile = () => rmSync(profile, { recursive: true, force: true, maxRetries: 3 })
  let browser: FirefoxBrowser
  try {
    browser = await puppeteer.launch({
      browser: 'firefox',
      executablePath: FIREFOX_PATH,
      headless: true,
      userDataDir: profile,
      // A language is the browser's, not a page's: its own process, asking for it first.
      extraPrefsFirefox: locale ? { ...FIREFOX_PREFS, 'intl.accept_languages': `${locale}, ${locale.split('-')[0]}` } : FIREFOX_PREFS,
      env: { ...process.env, MOZ_CRASHREPORTER_DISABLE: '1' },
    })
  } catch (error) {
    removeProfile()
    throw error
  }
  // However the browser ends (close, crash, kill), its profile goes with it.
  const child = browser.process()
  if (child && child.exitCode === null) child.once('exit', removeProfile)
  else removeProfile()
  return browser
}
