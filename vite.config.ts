import react from '@vitejs/plugin-react'
import { defineConfig, loadEnv, type Plugin } from 'vite'

/** Where `npm start` runs the room server; the dev server proxies to it. */
const roomServer = process.env.MESHCALL_ROOM_SERVER ?? 'http://127.0.0.1:1999'

/**
 * The built app's Content-Security-Policy: scripts, styles and workers from
 * its own origin only (no inline script), connections to its own origin and
 * the room server, media from blob: and camera streams. PartyKit serves
 * static files with no custom headers, so the policy rides in a `<meta>`
 * (where `frame-ancestors` is ignored). The dev server keeps none: its React
 * refresh preamble is an inline script.
 */
export function contentSecurityPolicy(roomHost?: string): string {
  const room = roomHost ? ` https://${roomHost} wss://${roomHost} http://${roomHost} ws://${roomHost}` : ''
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "media-src 'self' blob: mediastream:",
    `connect-src 'self'${room}`,
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
  ].join('; ')
}

function securityPolicy(roomHost: string | undefined): Plugin {
  return {
    name: 'meshcall-csp',
    apply: 'build',
    transformIndexHtml: () => [
      {
        tag: 'meta',
        attrs: { 'http-equiv': 'Content-Security-Policy', content: contentSecurityPolicy(roomHost) },
        injectTo: 'head-prepend',
      },
    ],
  }
}

export default defineConfig(({ mode }) => ({
  plugins: [react(), securityPolicy(loadEnv(mode, process.cwd(), 'VITE_').VITE_MESHCALL_HOST)],
  // The app renders with Preact's React-compatible layer: the same
  // components and hooks, about 58 KB less JavaScript (gzipped) on the call
  // page than react-dom. The component tests (Vitest) render with React.
  resolve: {
    alias: [
      { find: /^react-dom\/client$/, replacement: 'preact/compat/client' },
      { find: /^react-dom$/, replacement: 'preact/compat' },
      { find: /^react\/jsx-runtime$/, replacement: 'preact/jsx-runtime' },
      { find: /^react\/jsx-dev-runtime$/, replacement: 'preact/jsx-dev-runtime' },
      { find: /^react$/, replacement: 'preact/compat' },
    ],
  },

  server: {
    host: '127.0.0.1',
    proxy: {
      // One origin for the app and the room server, as in production.
      '/parties': { target: roomServer, ws: true },
    },
  },
  build: { outDir: 'dist', sourcemap: true },
}))
