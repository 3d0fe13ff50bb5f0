// Client conformance: the reference client passes every client scenario, and
// each broken client (the reference client with one fault) fails the
// scenarios listed as its catchers. A scenario that no broken client fails
// would be a check nobody has seen go red. ~20 s alone on 2 cores, ~35 s on a
// loaded machine (the scenarios' waits: no-resend and no-reconnect windows,
// backoff attempts, the unanswered commands of broken clients).
import t from 'tap'
import { TIME_SCALE } from '../../test/support/time-scale.js'
import { runClientScenario } from '../client/client-runner.js'
import { transcriptLines } from '../report/format.js'
import { BROKEN_CLIENTS } from './client-broken-clients.js'
import { clientScenarios, referenceLauncher, scenario } from './client-helpers.js'

const scenarios = clientScenarios()

t.test('the reference client passes every client scenario', async (t) => {
  for (const s of scenarios) {
    const r = await runClientScenario(s, { launcher: referenceLauncher(), timeScale: TIME_SCALE })
    t.equal(r.verdict, 'pass', `${s.id}${r.message ? `: ${r.message}` : ''}`)
    if (r.verdict !== 'pass') t.comment(transcriptLines(r.transcript).join('\n'))
  }
})

for (const b of BROKEN_CLIENTS) {
  t.test(`broken client ${b.name} (${b.fault}) is caught`, async (t) => {
    for (const id of b.catchers) {
      const r = await runClientScenario(scenario(id), { launcher: referenceLauncher(b.hooks), timeScale: TIME_SCALE })
      t.equal(r.verdict, 'fail', `${id} fails ${b.name}`)
      if (r.verdict !== 'fail') t.comment(transcriptLines(r.transcript).join('\n'))
      else t.comment(`${id}: ${r.message}`)
    }
  })
}

t.test('every client scenario is caught by at least one broken client', async (t) => {
  const caught = new Set(BROKEN_CLIENTS.flatMap((b) => b.catchers))
  for (const s of scenarios) t.ok(caught.has(s.id), `${s.id} has a broken client that fails it`)
})
