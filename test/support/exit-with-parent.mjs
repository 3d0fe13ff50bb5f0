// Loaded into every Node process `npm test` starts, through
// NODE_OPTIONS=--import=<this file> (scripts/test-all.mjs): tap, the test
// files, and every server or helper they spawn, down the tree.
//
// A process whose parent or grandparent has died exits too. Test servers run
// in their own process group (so a test can stop a whole group), which also
// means a SIGKILLed test file -- tap kills a file at its timeout -- or an
// interrupted `npm test` would otherwise leave them running for good. The
// grandparent counts because a shell often sits in between (`npx` runs tap
// through `sh -c`, the runner's --spawn runs its command through a shell) and
// a shell does not exit when its own parent dies. Polling is the portable
// form of Linux's PR_SET_PDEATHSIG.
import { readFileSync } from 'node:fs'

const POLL_MS = 500

/** [ppid, state, starttime] of a process from /proc, or undefined when it is gone. */
function stat(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'latin1')
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ')
    return { ppid: Number(f[1]), state: f[0], start: f[19] }
  } catch {
    return undefined
  }
}

const watched = []
const parent = stat(process.ppid)
if (parent !== undefined) {
  watched.push({ pid: process.ppid, start: parent.start })
  const grand = parent.ppid > 1 ? stat(parent.ppid) : undefined
  if (grand !== undefined) watched.push({ pid: parent.ppid, start: grand.start })
}
const parentId = process.ppid

function ancestorDied() {
  if (process.ppid !== parentId) return true
  return watched.some(({ pid, start }) => {
    const s = stat(pid)
    // gone, a zombie, or the id now names another process
    return s === undefined || s.state === 'Z' || s.start !== start
  })
}

const watch = setInterval(() => {
  if (!ancestorDied()) return
  clearInterval(watch)
  // SIGTERM first: servers shut down cleanly and stop their own children.
  process.kill(process.pid, 'SIGTERM')
  setTimeout(() => process.exit(1), 5000).unref()
}, POLL_MS)
watch.unref()
