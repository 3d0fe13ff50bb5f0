// The model is an oracle for faults it was not written for: a few broken
// servers of this self-test (faults.ts) run a few of their catchers with
// whole transcripts, and the model, replaying each transcript the runner
// failed, refuses it too and names the broken rule. Bounded: five faults,
// three cases each (about 20 s). The whole catalogue's numbers are in the
// conformance README.
import t from 'tap'
import { type CaseResult, runSuite } from '../../conformance/index.js'
import { judgeCases } from '../../conformance/model/replay-transcript.js'
import { ensureBuilt } from '../support/built.js'
import { scaled, TIME_SCALE } from '../support/time-scale.js'
import { CHECKS } from './fixtures/catchers.js'
import { BROKEN_SERVER_MAIN, brokenServerCommand } from './fixtures/run-fault.js'

t.setTimeout(scaled(180_000))
await ensureBuilt(BROKEN_SERVER_MAIN)

const SECRET = 'model-oracle-secret'

/** Fault -> the requirement the model must name for each of its failing cases. */
const ORACLE: Record<string, string> = {
  'no-dedupe': 'DUP-2',
  'replay-missing': 'RSM-1',
  'own-messages-echoed': 'DLV-5',
  'pong-wrong-nonce': 'HB-1',
  'seq-gapped': 'ORD-1',
}
const CASES_PER_FAULT = 3

async function failing(fault: string): Promise<CaseResult[]> {
  const check = CHECKS.find((c) => c.fault === fault)
  if (!check) throw new Error(`no catchers for ${fault}`)
  const report = await runSuite({
    spawn: brokenServerCommand(fault),
    tokenSecret: SECRET,
    transports: ['tcp'],
    cases: check.catchers.slice(0, CASES_PER_FAULT),
    timeScale: TIME_SCALE,
    allTranscripts: true,
    wholeTranscripts: true,
  })
  return report.cases.filter((c) => c.verdict === 'fail')
}

const runs = await Promise.all(Object.keys(ORACLE).map(async (f) => [f, await failing(f)] as const))

for (const [fault, cases] of runs) {
  t.test(`the model refuses what the ${fault} server sent, naming ${ORACLE[fault]}`, async (t) => {
    t.ok(cases.length > 0, `${cases.length} catchers failed against it`)
    for (const [key, r] of judgeCases(cases, { secret: SECRET, durable: true })) {
      t.equal(r.unjudged, null, `${key} judged whole`)
      t.equal(r.violation?.requirement, ORACLE[fault], `${key}: ${r.violation?.message ?? 'no violation'}`)
    }
  })
}
