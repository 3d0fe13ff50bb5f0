// The known-failures file: cases an implementation knows it fails, so CI
// stays green while they are fixed, and turns red when the list is stale.
//
//   # comment
//   dedupe.retry-after-drop-returns-original-seq   # trailing comment
//   ws:limits.*                                     # only over WebSocket
//
// A listed case that fails is an expected failure. A listed case that passes,
// or an entry that matches no case of the suite, fails the run; the report
// names the exact lines to remove.
import { readFileSync } from 'node:fs'
import type { TransportKind } from '../drivers/transport.js'
import type { Scenario } from '../load/scenario-types.js'
import type { Problem } from '../report/report-types.js'
import type { CaseResult } from './case-types.js'
import { globMatch } from './glob.js'

export interface KnownFailure {
  line: number
  text: string
  transport: TransportKind | null
  glob: string
}

export class KnownFailuresError extends Error {
  override name = 'KnownFailuresError'
}

export function parseKnownFailures(text: string, file = 'known-failures'): KnownFailure[] {
  const out: KnownFailure[] = []
  text.split(/\r?\n/).forEach((raw, i) => {
    const body = raw.replace(/#.*$/, '').trim()
    if (body === '') return
    const m = /^(?:(tcp|ws):)?([A-Za-z0-9.*?_-]+)$/.exec(body)
    if (!m) throw new KnownFailuresError(`${file}:${i + 1}: expected [tcp:|ws:]CASE-ID-GLOB, got '${body}'`)
    out.push({
      line: i + 1,
      text: raw.trim(),
      transport: (m[1] as TransportKind | undefined) ?? null,
      glob: m[2] as string,
    })
  })
  return out
}

export function loadKnownFailures(file: string): KnownFailure[] {
  return parseKnownFailures(readFileSync(file, 'utf8'), file)
}

export function knownFailureFor(
  entries: KnownFailure[],
  id: string,
  transport: TransportKind,
): KnownFailure | undefined {
  return entries.find((e) => (e.transport === null || e.transport === transport) && globMatch(e.glob, id))
}

export function matchesAny(e: KnownFailure, pairs: Array<{ id: string; transport: TransportKind }>): boolean {
  return pairs.some((p) => (e.transport === null || e.transport === p.transport) && globMatch(e.glob, p.id))
}

/**
 * Phase 5 of a run: listed failures become expected failures; listed cases
 * that pass and lines that match no case of the suite become problems.
 */
export function applyKnownFailures(
  results: CaseResult[],
  known: KnownFailure[],
  scenarios: Scenario[],
  problems: Problem[],
  source: string | KnownFailure[] | undefined,
): void {
  const file = typeof source === 'string' ? source : 'known failures'
  const stale = new Set<KnownFailure>()
  for (const r of results) {
    const k = knownFailureFor(known, r.id, r.transport)
    if (!k) continue
    if (r.verdict === 'fail') {
      r.verdict = 'expected-failure'
      r.reason = `listed in ${file}:${k.line} (${k.text})`
    } else if (r.verdict === 'pass') {
      stale.add(k)
      r.reason = `passes but is listed in ${file}:${k.line}`
    }
  }
  for (const k of stale) {
    const passing = results
      .filter((r) => r.verdict === 'pass' && knownFailureFor(known, r.id, r.transport) === k)
      .map((r) => `${r.transport}:${r.id}`)
    problems.push({
      kind: 'stale-known-failure',
      line: k.line,
      text: k.text,
      message: `${file}:${k.line}: '${k.text}' lists cases that now pass (${passing.join(', ')}): remove the line`,
    })
  }
  // "Matches no case of the suite": the whole suite, not this run's transports or selection, so
  // a `ws:` line is not stale in a `--transport tcp` run.
  const pairs = scenarios.flatMap((s) =>
    (['tcp', 'ws'] as const)
      .filter((t) => !(s.needs.includes('tcp-only') && t !== 'tcp') && !(s.needs.includes('ws-only') && t !== 'ws'))
      .map((t) => ({ id: s.id, transport: t })),
  )
  for (const k of known) {
    if (!matchesAny(k, pairs))
      problems.push({
        kind: 'unmatched-known-failure',
        line: k.line,
        text: k.text,
        message: `${file}:${k.line}: '${k.text}' matches no case of the suite: remove the line`,
      })
  }
}
