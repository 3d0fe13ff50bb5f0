#!/usr/bin/env node
// `npm test`: every check CI runs, in order, with one closing line
// `N passed, N failed`. Each static check counts as one result; tap
// contributes its own counts (from its closing `# { total, pass, fail }`).
// Later checks still run after a failure so one run shows everything.
import { spawnSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'

const checks = [
  ['typecheck', 'npm', ['run', '-s', 'typecheck']],
  ['lint', 'npm', ['run', '-s', 'lint']],
  ['buf lint', 'npm', ['run', '-s', 'buf:lint']],
  ['buf breaking', 'npm', ['run', '-s', 'buf:breaking']],
  ['build', 'npm', ['run', '-s', 'build']],
  ['vectors lint', 'node', ['dist/src/cli/main.js', 'vectors', 'lint']],
  ['requirement coverage', 'node', ['dist/src/cli/main.js', 'conformance', 'coverage']],
  ['tap', 'npx', ['--no-install', 'tap']],
  ['code coverage', 'node', ['scripts/check-coverage.mjs']],
]

let passed = 0
let failed = 0
const failures = []
for (const [name, cmd, args] of checks) {
  process.stdout.write(`\n=== ${name}: ${cmd} ${args.join(' ')}\n`)
  const started = Date.now()
  const res = spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', maxBuffer: 1 << 28 })
  process.stdout.write(res.stdout ?? '')
  const ok = res.status === 0
  if (name === 'tap') {
    // tap's closing summary, e.g. `# { total: 120, pass: 118, fail: 2 }`
    const m = /# \{ total: (\d+), pass: (\d+)(?:, fail: (\d+))?/.exec(res.stdout ?? '')
    if (m) {
      const pass = Number(m[2])
      const fail = Number(m[3] ?? 0)
      passed += pass
      failed += fail
      // tap exiting non-zero with no failing assertion (e.g. a crashed file)
      if (!ok && fail === 0) failed += 1
    } else {
      failed += 1
    }
  } else if (ok) passed += 1
  else failed += 1
  if (!ok) failures.push(name)
  process.stdout.write(`=== ${name}: ${ok ? 'ok' : `FAILED (exit ${res.status})`} in ${((Date.now() - started) / 1000).toFixed(1)}s\n`)
}
if (failures.length > 0) process.stdout.write(`\nfailed checks: ${failures.join(', ')}\n`)
const line = `${passed} passed, ${failed} failed`
mkdirSync('.tap', { recursive: true })
writeFileSync('.tap/summary.txt', `${line}\n`)
process.stdout.write(`${line}\n`)
process.exit(failed === 0 && failures.length === 0 ? 0 : 1)
