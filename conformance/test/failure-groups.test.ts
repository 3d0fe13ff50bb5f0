// One wrong comparison fails dozens of cases with one symptom: the reports
// lead with that symptom, ranked by count, and the case to read first.
import t from 'tap'
import { brokenServerCommand } from '../../test/selftest/fixtures/run-fault.js'
import { runSuite } from '../engine/run-suite.js'
import { ConsoleReporter } from '../report/console.js'

t.setTimeout(240_000)

t.test('a server that echoes each Send to its sender is reported by cause first', async (t) => {
  const report = await runSuite({
    spawn: brokenServerCommand('own-messages-echoed'),
    transports: ['tcp'],
    cases: ['ack.*', 'dedupe.*', 'delivery.*', 'ordering.*', 'history.*'],
  })
  t.ok(report.summary.failed >= 20, `many cases fail (${report.summary.failed})`)
  const top = report.failureGroups[0]
  t.equal(top?.signature, "got a Deliver of this device's own message [DLV-5]", 'the biggest group names the cause')
  t.ok((top?.count ?? 0) >= report.summary.failed * 0.9, 'and holds (nearly) every failure, whatever step broke')
  t.match(top?.readFirst, /^tcp:delivery\.own-messages-not-delivered-to-sending-device$/, 'read first: the DLV-5 case')
  t.ok(top?.readFirstRequirements.includes('DLV-5'))
  t.ok(report.failingRequirements.length > 0)
  t.ok(
    report.cases.filter((c) => c.verdict === 'pass').every((c) => c.transcript.length === 0),
    'passing cases carry no transcript by default',
  )

  const chunks: string[] = []
  const out = {
    write: (s: string) => {
      chunks.push(s)
      return true
    },
  }
  new ConsoleReporter(out, { summaryOnly: true }).onEnd(report)
  const text = chunks.join('')
  const lines = text.split('\n')
  t.match(lines[0], /^failures by cause/)
  t.match(lines[1], /× got a Deliver of this device's own message \[DLV-5\] — read first: tcp:delivery\.own-messages-not-delivered-to-sending-device/)
  t.notMatch(text, /transcript:/, 'summary-only prints no transcripts')
})
