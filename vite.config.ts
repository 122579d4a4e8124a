import react from '@vitejs/plugin-react'
import { defineConfig } from 'vite'

/** Where `npm start` runs the room server; the dev server proxies to it. */
const roomServer = process.env.MESHCALL_ROOM_SERVER ?? 'http://127.0.0.1:1999'

export default defineConfig({
  plugins: [react()],
  server: {
    host: '127.0.0.1',
    proxy: {
      // One origin for the app and the room server, as in production.
      '/parties': { target: roomServer, ws: true },
    },
  },
  build: { outDir: 'dist', sourcemap: true },
})
