// JUnit XML: one <testsuite> per transport, one <testcase> per case
// (classname "<transport>.<area>"). Expected failures are reported as skipped
// so CI dashboards stay green for them; harness errors are <error>.
import { describeTarget, failureLines, transcriptLines } from './format.js'
import type { Report } from './report-types.js'

export function xmlEscape(s: string): string {
  // Characters XML 1.0 cannot carry at all are dropped.
  return s
    .replace(/[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
}

export function renderJunit(report: Report): string {
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>']
  const s = report.summary
  out.push(
    `<testsuites name="imwire conformance" tests="${s.total}" failures="${s.failed}" errors="${s.errors}" skipped="${s.skipped + s.expectedFailures + s.inconclusive}" time="${(s.durationMs / 1000).toFixed(3)}">`,
  )
  for (const transport of report.transports) {
    const cases = report.cases.filter((c) => c.transport === transport)
    const n = (v: string) => cases.filter((c) => c.verdict === v).length
    // Cases run in parallel: their summed durations exceed the wall time. Each transport's
    // suite ran within the run, so its time is the run's wall time at most.
    const time =
      Math.min(
        cases.reduce((t, c) => t + c.durationMs, 0),
        s.durationMs,
      ) / 1000
    out.push(
      `  <testsuite name="${transport}" tests="${cases.length}" failures="${n('fail')}" errors="${n('error')}" skipped="${n('skipped') + n('expected-failure') + n('inconclusive')}" time="${time.toFixed(3)}" timestamp="${report.startedAt.replace(/Z$/, '')}">`,
    )
    out.push('    <properties>')
    out.push(`      <property name="features" value="${xmlEscape((report.features[transport] ?? []).join(','))}"/>`)
    out.push(`      <property name="target" value="${xmlEscape(describeTarget(report.target))}"/>`)
    out.push('    </properties>')
    for (const c of cases) {
      const area = c.id.split('.')[0] ?? c.id
      const open = `    <testcase classname="${xmlEscape(`${transport}.${area}`)}" name="${xmlEscape(c.id)}" time="${(c.durationMs / 1000).toFixed(3)}"`
      if (c.verdict === 'pass') {
        out.push(`${open}/>`)
        continue
      }
      out.push(`${open}>`)
      if (c.verdict === 'skipped') out.push(`      <skipped message="${xmlEscape(c.reason ?? '')}"/>`)
      else if (c.verdict === 'inconclusive')
        out.push(`      <skipped message="${xmlEscape(`inconclusive: ${c.reason ?? ''}`)}"/>`)
      else if (c.verdict === 'expected-failure')
        out.push(`      <skipped message="${xmlEscape(`expected failure: ${c.reason ?? ''}`)}"/>`)
      else {
        const tag = c.verdict === 'error' ? 'error' : 'failure'
        const msg = c.failure?.message ?? c.reason ?? ''
        const body = [
          `${c.level} ${c.requirements.join(' ')}: ${c.title}`,
          ...(c.failure ? failureLines(c.failure) : []),
          'transcript:',
          ...transcriptLines(c.transcript),
        ]
        out.push(`      <${tag} message="${xmlEscape(msg)}" type="${c.level}">${xmlEscape(body.join('\n'))}</${tag}>`)
      }
      out.push('    </testcase>')
    }
    out.push('  </testsuite>')
  }
  out.push('</testsuites>')
  return `${out.join('\n')}\n`
}
