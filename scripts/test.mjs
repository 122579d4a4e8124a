// Runs the test suites. The mesh suite (many real libwebrtc connections)
// runs alone after the rest, where it does not compete for the 2 cores.
//
// @roamhq/wrtc's native binding very rarely crashes a test worker
// (SIGSEGV, about 1 run in 8 under load). When, and only when, a run fails
// because a worker died, that run is repeated once, and this is printed.
// A test that fails its assertions is never retried.
import { spawn } from 'node:child_process'

const HEAVY = 'test/machines/mesh.test.ts'

function vitest(args) {
  return new Promise((resolve) => {
    const child = spawn('npx', ['vitest', 'run', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    const relay = (stream, sink) =>
      stream.on('data', (chunk) => {
        output += chunk
        sink.write(chunk)
      })
    relay(child.stdout, process.stdout)
    relay(child.stderr, process.stderr)
    child.on('close', (code) => resolve({ code: code ?? 1, output }))
  })
}

async function run(args) {
  const first = await vitest(args)
  if (first.code === 0) return 0
  // Strip colour codes before reading vitest's summary.
  const plain = first.output.replace(/\x1b\[[0-9;]*m/g, '')
  const crashed = plain.includes('Worker exited unexpectedly')
  const failedTests = /Tests\s+\d+ failed/.test(plain)
  if (!crashed || failedTests) return first.code
  console.error('\n[test] a test worker died (the libwebrtc binding crashed); running these tests once more\n')
  return (await vitest(args)).code
}

const rest = await run(['--exclude', HEAVY])
const heavy = await run([HEAVY])
process.exit(rest || heavy)
