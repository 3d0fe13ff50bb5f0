// TAP version 14: one test point per (transport, case); skips and expected
// failures use the SKIP and TODO directives; failures carry a YAML block.
import { causeLines } from './console.js'
import { failureLines, transcriptLines } from './format.js'
import type { Report } from './report-types.js'

export function renderTap(report: Report): string {
  const lines = ['TAP version 14', `1..${report.cases.length}`, ...causeLines(report).map((l) => `# ${l}`)]
  report.cases.forEach((r, i) => {
    const name = `${r.transport} ${r.id} - ${r.title.replace(/#/g, '\\#')}`
    if (r.verdict === 'pass') lines.push(`ok ${i + 1} - ${name}`)
    else if (r.verdict === 'skipped') lines.push(`ok ${i + 1} - ${name} # SKIP ${r.reason ?? ''}`)
    else {
      const todo =
        r.verdict === 'expected-failure'
          ? ` # TODO ${r.reason ?? 'known failure'}`
          : r.verdict === 'inconclusive'
            ? ` # TODO inconclusive: ${r.reason ?? ''}`
            : ''
      lines.push(`not ok ${i + 1} - ${name}${todo}`)
      lines.push('  ---')
      lines.push(`  verdict: ${r.verdict}`)
      lines.push(`  level: ${r.level}`)
      lines.push(`  requirements: [${r.requirements.join(', ')}]`)
      if (r.failure) {
        lines.push('  failure: |-')
        for (const l of failureLines(r.failure)) lines.push(`    ${l}`)
      }
      if (r.verdict !== 'expected-failure') {
        lines.push('  transcript: |-')
        for (const l of transcriptLines(r.transcript)) lines.push(`    ${l}`)
      }
      lines.push('  ...')
    }
  })
  const s = report.summary
  lines.push(
    `# ${s.passed} passed, ${s.failed} failed (${s.mustFailed} MUST, ${s.shouldFailed} SHOULD), ${s.inconclusive} inconclusive, ${s.skipped} skipped, ${s.expectedFailures} expected failures, ${s.errors} harness errors`,
  )
  for (const p of report.problems) lines.push(`# ${p.kind}: ${p.message.replace(/\n/g, ' ')}`)
  lines.push(`# outcome: ${report.outcome} (exit ${report.exitCode})`)
  return `${lines.join('\n')}\n`
}
