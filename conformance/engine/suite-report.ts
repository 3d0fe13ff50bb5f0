// Phase 6 of a run: the summary counts, the per-requirement table and the
// outcome with its exit code.
import type { SpecIndex } from '../load/spec-index.js'
import type { Problem, Report, RequirementRow, Summary } from '../report/report-types.js'
import type { CaseResult } from './case-types.js'

export function summarize(results: CaseResult[], stale: number, durationMs: number): Summary {
  const count = (v: CaseResult['verdict']) => results.filter((r) => r.verdict === v).length
  return {
    total: results.length,
    passed: count('pass'),
    failed: count('fail'),
    inconclusive: count('inconclusive'),
    skipped: count('skipped'),
    expectedFailures: count('expected-failure'),
    errors: count('error'),
    mustFailed: results.filter((r) => r.verdict === 'fail' && r.level === 'MUST').length,
    shouldFailed: results.filter((r) => r.verdict === 'fail' && r.level === 'SHOULD').length,
    staleKnownFailures: stale,
    durationMs: Math.round(durationMs),
  }
}

/**
 * Harness errors win; then MUST failures, SHOULD failures with --strict, stale lists and crashes
 * fail the run. Inconclusive cases never change the exit code: they are counted and listed apart.
 */
export function outcomeOf(
  summary: Summary,
  strict: boolean,
  crashes: number,
): { outcome: Report['outcome']; exitCode: Report['exitCode'] } {
  const failing =
    summary.mustFailed > 0 || (strict && summary.shouldFailed > 0) || summary.staleKnownFailures > 0 || crashes > 0
  const outcome: Report['outcome'] = summary.errors > 0 ? 'harness-error' : failing ? 'failures' : 'conformant'
  return { outcome, exitCode: outcome === 'harness-error' ? 2 : outcome === 'failures' ? 1 : 0 }
}

export function staleCount(problems: Problem[]): number {
  return problems.filter((p) => p.kind === 'stale-known-failure' || p.kind === 'unmatched-known-failure').length
}

export function requirementRows(results: CaseResult[], spec: SpecIndex): RequirementRow[] {
  const rows = new Map<string, RequirementRow>()
  for (const r of results) {
    for (const id of r.requirements) {
      let row = rows.get(id)
      if (!row) {
        const req = spec.requirements.get(id)
        row = {
          id,
          level: req?.level ?? '',
          text: req?.text ?? '',
          cases: 0,
          passed: 0,
          failed: 0,
          skipped: 0,
          expectedFailures: 0,
          errors: 0,
          inconclusive: 0,
        }
        rows.set(id, row)
      }
      row.cases++
      if (r.verdict === 'pass') row.passed++
      else if (r.verdict === 'fail') row.failed++
      else if (r.verdict === 'skipped') row.skipped++
      else if (r.verdict === 'expected-failure') row.expectedFailures++
      else if (r.verdict === 'inconclusive') row.inconclusive++
      else row.errors++
    }
  }
  return [...rows.values()].sort((a, b) => compareIds(a.id, b.id))
}

export function compareIds(a: string, b: string): number {
  const [pa, na] = a.split('-')
  const [pb, nb] = b.split('-')
  return pa === pb ? Number(na) - Number(nb) : (pa ?? '').localeCompare(pb ?? '')
}
