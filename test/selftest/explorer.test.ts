// The explorer in CI: against the reference server it finds nothing within a
// fixed budget, on both stores; against broken servers of its own class
// (faults.ts, "faults only the explorer was written to find") it finds the
// fault, shrinks it and writes a vector that names the broken requirement.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { explore } from '../../conformance/explore/explore.js'
import { ensureBuilt } from '../support/built.js'
import { startBrokenServer } from './fixtures/broken-server.js'

t.setTimeout(300_000)
await ensureBuilt()

t.test('the reference server (SQLite, restarts on) passes a short exploration', async (t) => {
  const r = await explore({ seed: 7001, steps: 50, budgetMs: 35_000, runs: 3 })
  t.equal(r.finding, null, r.finding ? `${r.finding.violation.requirement}: ${r.finding.violation.message}` : 'ok')
  t.ok(r.steps > 0, `${r.steps} steps in ${r.runs} runs`)
})

t.test('the reference server (in-memory store) passes a short exploration', async (t) => {
  const r = await explore({ seed: 9001, steps: 50, budgetMs: 25_000, runs: 3, serveArgs: ['--memory'] })
  t.equal(r.finding, null, r.finding ? `${r.finding.violation.requirement}: ${r.finding.violation.message}` : 'ok')
})

const FOUND: Array<{ fault: string; requirement: string[] }> = [
  { fault: 'batch-skips-dedupe', requirement: ['DUP-2', 'DUP-3', 'FAN-2', 'DLV-1', 'ORD-1'] },
]

for (const { fault, requirement } of FOUND) {
  t.test(`the explorer finds ${fault} and writes a vector`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'imwire-explore-'))
    const secret = 'explore-selftest'
    const server = await startBrokenServer({ fault, dataDir: dir, tokenSecret: secret })
    try {
      const r = await explore({
        seed: 1,
        steps: 60,
        budgetMs: 60_000,
        targets: [`tcp://${server.tcp}`, server.ws],
        tokenSecret: secret,
        vectorOut: dir,
        shrinkBudgetMs: 30_000,
      })
      t.ok(r.finding, 'found a disagreement')
      if (!r.finding) return
      t.ok(requirement.includes(r.finding.violation.requirement), `broken rule ${r.finding.violation.requirement}`)
      t.ok(r.finding.shrunk.length <= r.finding.actions.length, `shrunk to ${r.finding.shrunk.length}`)
      const vector = JSON.parse(readFileSync(r.finding.vectorPath as string, 'utf8'))
      t.same(vector.scenarios[0].requirements, [r.finding.violation.requirement])
    } finally {
      await server.shutdown()
      rmSync(dir, { recursive: true, force: true })
    }
  })
}
