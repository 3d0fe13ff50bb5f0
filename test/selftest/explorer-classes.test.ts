// Issue 8's target for the explorer: for each class of fault the hand-written
// suite used to miss, a broken server of that class that the explorer finds
// from a fixed seed within a CI budget. For each, the finding names the broken
// requirement, is shrunk, and the vector it writes fails against that broken
// server and passes against the reference server under the normal runner.
// The broken servers of classes 2, 3, 6 and 7 passed the whole hand-written
// suite (491 cases, both transports) when they were added; a scenario written
// after the explorer's vector (catchers.ts) catches each of them now.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { kitPaths, loadScenarios, loadSpecIndex, runSuite } from '../../conformance/index.js'
import { explore } from '../../conformance/explore/explore.js'
import { ensureBuilt } from '../support/built.js'
import { scaled, TIME_SCALE } from '../support/time-scale.js'
import { startBrokenServer } from './fixtures/broken-server.js'
import { BROKEN_SERVER_MAIN, brokenServerCommand } from './fixtures/run-fault.js'

t.setTimeout(scaled(600_000))
await ensureBuilt(BROKEN_SERVER_MAIN)

interface ClassCase {
  cls: string
  fault: string
  /** A seed whose first run finds the fault. */
  seed: number
  /** Requirements the finding may name (the fault shows first through one of them). */
  requirements: string[]
  /** Needs restarts: the broken server runs as a spawned process. */
  spawn?: boolean
}

export const CLASSES: ClassCase[] = [
  { cls: '1 state built before the event', fault: 'list-cache-survives-leave', seed: 6, requirements: ['HIS-5'] },
  {
    cls: '4 side effects of refused frames',
    fault: 'refused-resume-keeps-positions',
    seed: 19,
    requirements: ['CNV-3', 'RSM-1', 'RSM-3', 'HIS-5', 'RSM-4'],
  },
  {
    cls: '2 frames during something else',
    fault: 'requests-wait-for-replay',
    seed: 59,
    requirements: ['HS-6', 'BAT-2', 'ACK-3', 'HIS-4', 'HIS-5', 'FLW-4', 'CNV-3', 'CNV-6'],
  },
  { cls: '3 exact boundaries', fault: 'list-has-more-when-page-full', seed: 3, requirements: ['HIS-5'] },
  {
    cls: '5 durability across two restarts',
    fault: 'recovered-cursors-in-memory',
    seed: 6,
    requirements: ['RSM-3', 'RSM-5', 'CNV-3', 'HIS-5'],
    spawn: true,
  },
  { cls: '6 a user on both transports', fault: 'own-notices-within-transport-only', seed: 2, requirements: ['CNV-6'] },
  {
    cls: '7 a rule reached through a Batch',
    fault: 'batch-drops-send-seq',
    seed: 6,
    requirements: ['ORD-1', 'ORD-2', 'ORD-3', 'ORD-4', 'ACK-3'],
  },
]

const paths = kitPaths()
const spec = loadSpecIndex(paths.specPath)
const secret = 'explore-classes'

for (const c of CLASSES) {
  t.test(`class ${c.cls}: the explorer finds ${c.fault} from seed ${c.seed}`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'imwire-explore-class-'))
    let server = c.spawn ? null : await startBrokenServer({ fault: c.fault, dataDir: dir, tokenSecret: secret })
    try {
      const r = await explore({
        seed: c.seed,
        steps: 60,
        runs: 1,
        budgetMs: 120_000,
        tokenSecret: secret,
        ...(server ? { targets: [`tcp://${server.tcp}`, server.ws] } : { spawn: brokenServerCommand(c.fault) }),
        vectorOut: join(dir, 'vectors'),
        shrinkBudgetMs: 15_000,
      })
      await server?.shutdown()
      server = null
      const f = r.finding
      t.ok(f, `found a disagreement from seed ${c.seed}`)
      if (!f) return
      t.ok(c.requirements.includes(f.violation.requirement), `names ${f.violation.requirement}: ${f.violation.message}`)
      t.ok(f.confirmed, 'the shrunk list fails again when replayed')
      t.ok(f.shrunk.length < f.actions.length, `shrunk ${f.actions.length} -> ${f.shrunk.length}`)
      t.comment(
        `${c.fault}: found after ${(f.foundAfterMs / 1000).toFixed(1)} s, shrunk to ${f.shrunk.length} action(s), [${f.violation.requirement}]`,
      )

      const loaded = loadScenarios({ dir: join(dir, 'vectors'), schemaPath: paths.schemaPath, spec })
      t.same(loaded.errors, [], 'the written vector loads (schema, templates, requirement ids)')
      const scenario = loaded.scenarios[0]
      if (!scenario) return
      t.same(scenario.requirements, [f.violation.requirement])
      const replay = (fault: string | null) =>
        runSuite({
          spawn: brokenServerCommand(fault),
          scenarios: [scenario],
          transports: ['tcp'],
          timeScale: TIME_SCALE,
          tokenSecret: secret,
        })
      const broken = await replay(c.fault)
      t.equal(broken.cases[0]?.verdict, 'fail', 'the vector fails against the broken server')
      const reference = await replay(null)
      t.equal(
        reference.cases[0]?.verdict,
        'pass',
        `the vector passes against the reference server${reference.cases[0]?.verdict !== 'pass' ? `: ${JSON.stringify(reference.cases[0]?.failure ?? reference.problems).slice(0, 800)}` : ''}`,
      )
    } finally {
      await server?.shutdown()
      rmSync(dir, { recursive: true, force: true })
    }
  })
}
