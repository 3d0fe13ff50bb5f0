// Every session vector agrees with the model: the whole suite runs against
// the bundled reference server with transcripts kept whole, then each case's
// transcript — connects, frames both ways, raw bytes, disconnects, restarts —
// is replayed through the model (conformance/model/replay-transcript.ts),
// which must allow every frame the server sent.
//
// Each scenario runs on one transport: TCP, or WebSocket for the ws-only
// ones (both runs at once, ~20 s on a quiet 2-core machine; both transports
// for every scenario took 133 s). The model and the replay judge frames the
// same way on either transport; what differs below the frames (TCP prefixes,
// RFC 6455 framing) is what the tcp-only and ws-only scenarios exercise.
//
// The model's own mistakes are listed below with the reason; the lists must
// match exactly, so nothing is skipped silently.
import t from 'tap'
import { ensureBuilt } from '../../test/support/built.js'
import { kitPaths } from '../engine/paths.js'
import { runSuite } from '../index.js'
import { loadSpecIndex } from '../load/spec-index.js'
import { loadScenarios } from '../load/vector-loader.js'
import { judgeCases } from '../model/replay-transcript.js'

t.setTimeout(300_000)
await ensureBuilt()

const SECRET = 'model-vectors-secret'

/** Cases the model cannot judge (whole or from some point on), and why. Keep empty. */
const UNJUDGED: Record<string, string> = {}

/**
 * Cases where the model is known to lack latitude (a model false positive,
 * not a server bug); their violations are printed, not failed. Keep empty.
 */
const MODEL_GAPS: Record<string, string> = {}

const paths = kitPaths()
const loaded = loadScenarios({
  dir: paths.vectorsDir,
  schemaPath: paths.schemaPath,
  spec: loadSpecIndex(paths.specPath),
})
const scenarios = loaded.scenarios
const wsOnly = scenarios.filter((s) => s.needs.includes('ws-only'))
const whole = { tokenSecret: SECRET, allTranscripts: true, wholeTranscripts: true } as const
const [tcp, ws] = await Promise.all([
  runSuite({ ...whole, transports: ['tcp'], scenarios: scenarios.filter((s) => !s.needs.includes('ws-only')) }),
  runSuite({ ...whole, transports: ['ws'], scenarios: wsOnly }),
])
const cases = [...tcp.cases, ...ws.cases]
const judged = judgeCases(cases, { secret: SECRET, durable: true })

t.test('every session vector ran once, on TCP or (ws-only) on WebSocket', async (t) => {
  t.same(loaded.errors, [])
  t.ok(scenarios.length >= 250, `${scenarios.length} scenarios`)
  t.ok(wsOnly.length > 0, `${wsOnly.length} ws-only scenarios`)
  const skipped = cases.filter((c) => c.verdict === 'skipped').map((c) => `${c.transport}:${c.id}: ${c.reason}`)
  t.same(skipped, [], 'no case skipped')
  t.same(
    [...judged.keys()].map((k) => k.slice(k.indexOf(':') + 1)).sort(),
    scenarios.map((s) => s.id).sort(),
    'one judged case per scenario',
  )
  // the model judges the transcript whatever the runner's verdict; a timing
  // verdict the load made inconclusive is not the model's business
  for (const c of cases) if (c.verdict !== 'pass') t.comment(`${c.transport}:${c.id} ${c.verdict}: ${c.reason ?? ''}`)
})

t.test('the model allows every frame the reference server sent in every session vector', async (t) => {
  let frames = 0
  for (const [key, r] of judged) {
    frames += r.judged
    const v = r.violation
    if (v && MODEL_GAPS[key.slice(key.indexOf(':') + 1)] !== undefined) {
      t.comment(`known model gap ${key}: [${v.requirement}] ${v.message}`)
      continue
    }
    if (v) t.fail(`${key}: [${v.requirement}] ${v.conn} at ${v.t} ms: ${v.message}`)
  }
  t.pass(`${judged.size} cases replayed`)
  t.ok(frames > 10_000, `${frames} server frames judged`)
})

t.test('the cases the model cannot judge are exactly the listed ones', async (t) => {
  const unjudged = [...judged].filter(([, r]) => r.unjudged !== null)
  for (const [key, r] of unjudged) t.comment(`${key}: ${r.unjudged}`)
  t.same(unjudged.map(([k]) => k).sort(), Object.keys(UNJUDGED).sort())
})
