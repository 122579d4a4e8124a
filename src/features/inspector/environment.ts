import { PROTOCOL_VERSION } from '../../../protocol/messages'
import type { Environment } from '../../../machines/inspect/recorder'

/** What a dump says about where it was recorded. */
export function browserEnvironment(config: Record<string, unknown>): Environment {
  return { userAgent: navigator.userAgent, app: `meshcall ${import.meta.env.MODE}`, protocol: PROTOCOL_VERSION, config }
}
