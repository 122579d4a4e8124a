import * as v from 'valibot'

/** Where the room server is, checked once at start-up. */
export type AppConfig = { host: string; secure: boolean }

const Config = v.object({
  host: v.pipe(v.string(), v.regex(/^[A-Za-z0-9.-]+(:\d{1,5})?$/, 'must be a host name with an optional :port')),
  secure: v.boolean(),
})

/**
 * The room server is the page's own origin (Vite proxies it in development,
 * PartyKit serves both in production) unless VITE_MESHCALL_HOST names another.
 * @throws Error with a readable message when VITE_MESHCALL_HOST is malformed.
 */
export function readConfig(): AppConfig {
  const configured = import.meta.env.VITE_MESHCALL_HOST
  const result = v.safeParse(Config, {
    host: configured ?? location.host,
    secure: configured ? !/^(localhost|127\.)/.test(configured) : location.protocol === 'https:',
  })
  if (!result.success) {
    throw new Error(`VITE_MESHCALL_HOST ${result.issues[0].message} (got ${JSON.stringify(configured)})`)
  }
  return result.output
}
