// Runs the test suites. The mesh suite (many real libwebrtc connections)
// runs alone after the rest, where it does not compete for the 2 cores.
//
// @roamhq/wrtc's native binding occasionally crashes a test worker
// (SIGSEGV) under load. When, and only when, a run fails because a worker
// died, the test files that did not finish are run again (at most twice),
// and this is printed with the files' names. A test that fails its
// assertions is never retried, and neither is a run with any failed test.
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'

const HEAVY = 'test/machines/mesh.test.ts'
const RETRIES = 2

const reports = mkdtempSync(join(tmpdir(), 'meshcall-test-'))
let runs = 0

/** Runs vitest once; resolves with its exit code, its output, and its JSON report (if written). */
function vitest(args) {
  const outputFile = join(reports, `run-${++runs}.json`)
  return new Promise((resolve) => {
    const child = spawn(
      'npx',
      ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${outputFile}`, ...args],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    let output = ''
    const relay = (stream, sink) =>
      stream.on('data', (chunk) => {
        output += chunk
        sink.write(chunk)
      })
    relay(child.stdout, process.stdout)
    relay(child.stderr, process.stderr)
    child.on('close', (code) => {
      let report = null
      try {
        report = JSON.parse(readFileSync(outputFile, 'utf8'))
      } catch {
        // No report: vitest itself did not get far enough to write one.
      }
      resolve({ code: code ?? 1, output, report })
    })
  })
}

/**
 * The files a crashed run did not finish: those with a test that neither
 * passed nor failed (vitest reports the tests after a crash as pending, and
 * the file as passed), or with no tests at all.
 */
function unfinished(report) {
  return report.testResults
    .filter((file) => file.assertionResults.length === 0 || file.assertionResults.some((t) => t.status !== 'passed' && t.status !== 'failed'))
    .map((file) => relative(process.cwd(), file.name))
}

async function run(args) {
  let attempt = await vitest(args)
  for (let retry = 1; ; retry++) {
    if (attempt.code === 0) return 0
    // Strip colour codes before reading vitest's summary.
    const plain = attempt.output.replace(/\x1b\[[0-9;]*m/g, '')
    const crashed = plain.includes('Worker exited unexpectedly')
    const failed = attempt.report ? attempt.report.numFailedTests > 0 : /Tests\s+\d+ failed/.test(plain)
    if (!crashed || failed || !attempt.report || retry > RETRIES) return attempt.code
    const files = unfinished(attempt.report)
    if (files.length === 0) return attempt.code
    console.error(
      `\n[test] a test worker died (the libwebrtc binding crashed); running the files it did not finish again (${retry} of ${RETRIES}): ${files.join(', ')}\n`,
    )
    attempt = await vitest(files)
  }
}

try {
  const rest = await run(['--exclude', HEAVY])
  const heavy = await run([HEAVY])
  process.exitCode = rest || heavy
} finally {
  rmSync(reports, { recursive: true, force: true })
}
