// @roamhq/wrtc can crash (SIGSEGV) in its native teardown when a process
// that used it exits by running out of work, and Vitest's fork workers exit
// that way. An explicit exit skips that teardown; exit code and output are
// unchanged.
process.once('beforeExit', (code) => process.exit(code))
