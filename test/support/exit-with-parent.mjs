// Loaded into every Node process `npm test` starts, through
// NODE_OPTIONS=--import=<this file> (scripts/test-all.mjs): tap, the test
// files, and every server or helper they spawn, down the tree.
//
// A process whose parent has died exits too. Test servers run in their own
// process group (so a test can stop a whole group), which also means a
// SIGKILLed test file -- tap kills a file at its timeout -- or an interrupted
// `npm test` would otherwise leave them running for good. Polling the parent
// id is the portable form of Linux's PR_SET_PDEATHSIG.
const parent = process.ppid
const POLL_MS = 500
const watch = setInterval(() => {
  if (process.ppid === parent) return
  clearInterval(watch)
  // SIGTERM first: servers shut down cleanly and stop their own children.
  process.kill(process.pid, 'SIGTERM')
  setTimeout(() => process.exit(1), 5000).unref()
}, POLL_MS)
watch.unref()
