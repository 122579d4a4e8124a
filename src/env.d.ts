/// <reference types="vite/client" />

/** The build-time variables the app reads (see `src/config.ts`). */
interface ImportMetaEnv {
  /** `host[:port]` of a room server on another origin; unset means the page's own. */
  readonly VITE_MESHCALL_HOST?: string
}
