// Client conformance: the reference client passes every client scenario, and
// each broken client (the reference client with one fault) fails the
// scenarios listed as its catchers. A scenario that no broken client fails
// would be a check nobody has seen go red. Under npm test (2 cores): the
// reference client's run ~30 s (two lanes, below), the WebSocket cases ~7 s,
// the broken clients ~70 s, 30 s of it the two that never give up a silent
// connection (the scenarios' waits: no-resend and no-reconnect windows,
// backoff attempts, the unanswered commands of broken clients).
import t from 'tap'
import { TIME_SCALE } from '../../test/support/time-scale.js'
import { runClientScenario, waitsOnSilence } from '../client/client-runner.js'
import { transcriptLines } from '../report/format.js'
import { BROKEN_CLIENTS, NOT_CAUGHT } from './client-broken-clients.js'
import { clientScenarios, referenceLauncher, scenario } from './client-helpers.js'

const scenarios = clientScenarios()

// Cases that wait on a silent connection (waitsOnSilence) run in a second lane
// beside the rest, as the CLI runs them, so the file stays well under a minute.
t.test('the reference client passes every client scenario', async (t) => {
  const lane = async (list: typeof scenarios) => {
    for (const s of list) {
      const r = await runClientScenario(s, { launcher: referenceLauncher(), timeScale: TIME_SCALE })
      t.equal(r.verdict, 'pass', `${s.id}${r.message ? `: ${r.message}` : ''}`)
      if (r.verdict !== 'pass') t.comment(transcriptLines(r.transcript).join('\n'))
    }
  }
  await Promise.all([lane(scenarios.filter((s) => !waitsOnSilence(s))), lane(scenarios.filter(waitsOnSilence))])
})

// Over WebSocket the kit's server and the client change only their transport;
// these cases exercise what differs there (Close frames with their codes,
// dropped connections, deliveries and acknowledgements around a close).
const OVER_WS = [
  'client.retry.same-id-after-drop',
  'client.retry.reconnect-not-before-retry-after',
  'client.errors.deployment-close-4500-is-terminal',
  'client.errors.deployment-close-4000-reconnects',
  'client.delivery.flushes-acks-before-close',
  'client.resume.replay-limit-pages-history',
  'client.resume.epoch-changed-rereads',
]

t.test('over WebSocket too, the reference client passes and a broken one is caught', async (t) => {
  for (const id of OVER_WS) {
    const r = await runClientScenario(scenario(id), {
      launcher: referenceLauncher(),
      timeScale: TIME_SCALE,
      transport: 'ws',
    })
    t.equal(r.verdict, 'pass', `ws:${id}${r.message ? `: ${r.message}` : ''}`)
    if (r.verdict !== 'pass') t.comment(transcriptLines(r.transcript).join('\n'))
  }
  const b = BROKEN_CLIENTS.find((x) => x.name === 'ignores-retry-after')
  const r = await runClientScenario(scenario('client.retry.reconnect-not-before-retry-after'), {
    launcher: referenceLauncher(b?.hooks),
    timeScale: TIME_SCALE,
    transport: 'ws',
  })
  t.equal(r.verdict, 'fail', 'ws:client.retry.reconnect-not-before-retry-after fails ignores-retry-after')
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

t.test('every client scenario is caught by at least one broken client, or listed with the reason', async (t) => {
  const caught = new Set(BROKEN_CLIENTS.flatMap((b) => b.catchers))
  for (const s of scenarios)
    t.ok(caught.has(s.id) || NOT_CAUGHT[s.id] !== undefined, `${s.id} has a broken client that fails it`)
  for (const id of Object.keys(NOT_CAUGHT)) t.ok(!caught.has(id), `${id} is listed as not caught but is caught`)
  const ids = new Set(scenarios.map((s) => s.id))
  for (const id of [...caught, ...Object.keys(NOT_CAUGHT)]) t.ok(ids.has(id), `${id} is a client scenario`)
})
