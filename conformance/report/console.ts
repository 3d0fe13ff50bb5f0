// Console reporter: live progress (one rewritten line on a TTY, a line per
// tenth of the run in a log, a line per case with --verbose), then the
// failures by cause with the case to read first in full, then the summary.
import type { CaseResult } from '../engine/case-types.js'
import type { TransportKind } from '../drivers/transport.js'
import { caseLabel, describeTarget, failureLines, transcriptLines } from './format.js'
import type { Report } from './report-types.js'

const MARK: Record<CaseResult['verdict'], string> = {
  pass: 'ok  ',
  fail: 'FAIL',
  inconclusive: 'INCONCL',
  skipped: 'skip',
  'expected-failure': 'xfail',
  error: 'ERR ',
}

export class ConsoleReporter {
  private readonly tty: boolean
  private running = new Set<string>()
  private notPassing = 0
  constructor(
    private readonly out: NodeJS.WriteStream | { write(s: string): boolean; isTTY?: boolean },
    private readonly opts: { verbose?: boolean; color?: boolean; summaryOnly?: boolean } = {},
  ) {
    this.tty = out.isTTY === true
  }

  private c(code: string, s: string): string {
    return (this.opts.color ?? this.tty) ? `\x1b[${code}m${s}\x1b[0m` : s
  }

  onStart(info: {
    total: number
    transports: TransportKind[]
    features: Report['features']
    target: Report['target']
  }): void {
    const where = describeTarget(info.target)
    const feats = info.transports.map((t) => `${t}: [${(info.features[t] ?? []).join(', ')}]`).join('; ')
    // A client run: the kit is the server, nothing was offered to it.
    const offered = info.target.mode === 'client' ? '' : `features offered: ${feats}\n`
    this.out.write(
      `imwire conformance: ${info.total} cases against ${info.target.mode}${info.target.command ? ` (${info.target.command})` : ''}${info.target.nodes ? ':' : ''} ${where}\n${offered}`,
    )
  }

  onCaseStart(id: string, transport: TransportKind): void {
    this.running.add(`${transport}:${id}`)
  }

  onCaseEnd(r: CaseResult, done: number, total: number): void {
    this.running.delete(caseLabel(r))
    const mark =
      r.verdict === 'pass'
        ? this.c('32', MARK.pass)
        : r.verdict === 'fail' || r.verdict === 'error'
          ? this.c('31', MARK[r.verdict])
          : this.c('33', MARK[r.verdict])
    const line = `${mark} ${caseLabel(r)} (${r.durationMs} ms)${r.verdict === 'skipped' || r.verdict === 'inconclusive' ? ` — ${r.reason}` : ''}`
    if (r.verdict === 'fail' || r.verdict === 'error') this.notPassing++
    if (this.tty) {
      this.out.write('\r\x1b[2K')
      if (r.verdict !== 'pass' || this.opts.verbose) this.out.write(`${line}\n`)
      this.out.write(`[${done}/${total}] running ${this.running.size}…`)
      if (done === total) this.out.write('\r\x1b[2K')
    } else if (this.opts.verbose) {
      this.out.write(`${line}\n`)
    } else if (!this.opts.summaryOnly && Math.floor((done * 10) / total) > Math.floor(((done - 1) * 10) / total)) {
      // A log (CI) gets a progress line per tenth of the run, not a line per case: the report
      // that follows leads with the causes, and a hundred FAIL lines would bury them.
      this.out.write(`[${done}/${total}] ${this.notPassing} failed so far\n`)
    }
  }

  onEnd(report: Report): void {
    const w = (s = '') => this.out.write(`${s}\n`)
    const byLabel = new Map(report.cases.map((c) => [caseLabel(c), c]))
    // Causes first: one wrong comparison can fail a hundred cases with one symptom.
    for (const l of causeLines(report)) w(l.startsWith('failures by cause') ? this.c('1', l) : l)
    if (!this.opts.summaryOnly) {
      const detailed = new Set(
        this.opts.verbose ? report.cases.filter(isBad).map(caseLabel) : report.failureGroups.map((g) => g.readFirst),
      )
      for (const label of detailed) {
        const r = byLabel.get(label)
        if (!r) continue
        w()
        w(this.c('1', `── ${r.verdict === 'error' ? 'HARNESS ERROR' : `${r.level} FAILURE`} ${caseLabel(r)} ──`))
        w(`${r.title}`)
        w(`requirements: ${r.requirements.join(', ')}`)
        if (r.nodes) w(`nodes: ${r.nodes.map((p) => `${p.conn} on node ${p.node}`).join(', ')}`)
        if (r.failure) for (const l of failureLines(r.failure)) w(l)
        w('transcript:')
        for (const l of transcriptLines(r.transcript)) w(`  ${l}`)
      }
      const rest = report.cases.filter((c) => isBad(c) && !detailed.has(caseLabel(c)))
      if (rest.length) {
        w()
        w(`other failures (${rest.length}; --verbose prints each with its transcript):`)
        for (const r of rest) w(`  ${caseLabel(r)}: ${r.failure?.step ?? ''}: ${r.failure?.message ?? r.reason ?? ''}`)
      }
    }
    const s = report.summary
    w()
    const skippedReasons = new Map<string, number>()
    for (const r of report.cases)
      if (r.verdict === 'skipped') skippedReasons.set(r.reason ?? '', (skippedReasons.get(r.reason ?? '') ?? 0) + 1)
    for (const [reason, n] of skippedReasons) w(`skipped ${n}: ${reason}`)
    const inconclusive = report.cases.filter((c) => c.verdict === 'inconclusive')
    if (inconclusive.length) {
      w(
        this.c(
          '33',
          `inconclusive (${inconclusive.length}, timing not judged, exit code unchanged; rerun on a quieter machine):`,
        ),
      )
      for (const r of inconclusive) w(`  ${caseLabel(r)}: ${r.reason ?? ''}`)
    }
    const must = report.cases.filter((c) => c.verdict === 'fail' && c.level === 'MUST')
    const should = report.cases.filter((c) => c.verdict === 'fail' && c.level === 'SHOULD')
    if (must.length) w(this.c('31', `MUST failures (${must.length}): ${must.map(caseLabel).join(', ')}`))
    if (should.length)
      w(
        this.c(
          '33',
          `SHOULD failures (${should.length}${report.options.strict ? '' : ', not failing the run without --strict'}): ${should.map(caseLabel).join(', ')}`,
        ),
      )
    const xf = report.cases.filter((c) => c.verdict === 'expected-failure')
    if (xf.length) w(`expected failures (${xf.length}): ${xf.map(caseLabel).join(', ')}`)
    for (const p of report.problems) w(this.c(p.kind === 'no-welcome' ? '33' : '31', `${p.kind}: ${p.message}`))
    const stale = report.problems.filter((p) => p.line !== undefined).sort((a, b) => (a.line ?? 0) - (b.line ?? 0))
    if (stale.length) {
      w(`remove these lines from ${report.options.knownFailures ?? 'the known-failures list'}:`)
      for (const p of stale) w(`  ${p.line}: ${p.text}`)
    }
    w(
      `${summaryParts(report).join(', ')} in ${(s.durationMs / 1000).toFixed(1)} s — ${report.outcome} (exit ${report.exitCode})`,
    )
  }
}

const isBad = (c: CaseResult) => c.verdict === 'fail' || c.verdict === 'error'

/** The lines every report leads with: failure signatures, failing requirements, a slow server. */
export function causeLines(report: Report, maxGroups = 10): string[] {
  const out: string[] = []
  const groups = report.failureGroups
  if (groups.length) {
    out.push(`failures by cause (${groups.length} signature${groups.length === 1 ? '' : 's'}, most cases first):`)
    for (const g of groups.slice(0, maxGroups))
      out.push(
        `  ${String(g.count).padStart(4)} × ${g.signature} — read first: ${g.readFirst} [${g.readFirstRequirements.join(', ')}]`,
      )
    if (groups.length > maxGroups) out.push(`       … ${groups.length - maxGroups} more signatures`)
    const reqs = report.failingRequirements.slice(0, 8)
    out.push(
      `requirements by failing cases: ${reqs.map((r) => `${r.id} ${r.failed}`).join(', ')}${report.failingRequirements.length > reqs.length ? ', …' : ''}`,
    )
  }
  const slow = report.slowServer
  if (slow?.cases.length)
    out.push(
      `slow server: answers took ${slow.cases[0]?.medianMs} ms median in ${slow.cases[0]?.case} (run median ${slow.runMedianMs} ms); ${slow.cases.length} case(s) at least 10× the run median: ${slow.cases
        .slice(0, 5)
        .map((c) => c.case)
        .join(', ')}`,
    )
  return out
}

export function summaryParts(report: Report): string[] {
  const s = report.summary
  return [
    `${s.passed} passed`,
    `${s.failed} failed (${s.mustFailed} MUST, ${s.shouldFailed} SHOULD)`,
    ...(s.inconclusive ? [`${s.inconclusive} inconclusive`] : []),
    `${s.skipped} skipped`,
    `${s.expectedFailures} expected failures`,
    ...(s.errors ? [`${s.errors} harness errors`] : []),
  ]
}
