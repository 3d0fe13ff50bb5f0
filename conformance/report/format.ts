// Plain-text rendering shared by the console, TAP and JUnit reporters: a
// failure (step, message, field differences, expected vs actual) and a wire
// transcript.
import type { CaseFailure, CaseResult } from '../engine/case-types.js'
import type { TargetInfo } from '../engine/target.js'
import type { TranscriptEntry } from '../engine/transcript.js'

const ARROW = { out: '→', in: '←', event: '•' } as const

export function transcriptLines(entries: TranscriptEntry[], withHex = true): string[] {
  const out: string[] = []
  for (const e of entries) {
    const t = `+${e.t.toFixed(1).padStart(8)}ms`
    const conn = (e.conn || '-').padEnd(4)
    if (e.frame !== undefined) {
      const [body, value] = Object.entries(e.frame as Record<string, unknown>)[0] ?? ['(empty)', {}]
      const tags = [e.batched ? '[in batch]' : '', e.auto ? '[auto]' : ''].filter(Boolean).join(' ')
      out.push(`${t} ${conn} ${ARROW[e.dir]} ${body} ${JSON.stringify(value)}${tags ? ` ${tags}` : ''}`)
      if (withHex && e.hex !== undefined && !e.batched)
        out.push(
          `${' '.repeat(t.length + conn.length + 4)}hex ${e.hex}${e.bytes !== undefined ? `… (${e.bytes} bytes)` : ''}`,
        )
      continue
    }
    const hex =
      withHex && e.hex !== undefined ? ` hex ${e.hex}${e.bytes !== undefined ? `… (${e.bytes} bytes)` : ''}` : ''
    out.push(`${t} ${conn} ${ARROW[e.dir]} ${e.event ?? ''}${e.detail ? ` ${e.detail}` : ''}${hex}`)
  }
  return out
}

export function failureLines(f: CaseFailure): string[] {
  const out = [`failed at ${f.step}: ${f.message}`]
  if (f.stepJson !== undefined) out.push(`  step: ${JSON.stringify(f.stepJson)}`)
  if (f.mismatches?.length) {
    out.push('  differences:')
    for (const m of f.mismatches.slice(0, 20))
      out.push(`    ${m.path || '(frame)'}: ${m.reason}; expected ${short(m.expected)}, actual ${short(m.actual)}`)
    if (f.mismatches.length > 20) out.push(`    … ${f.mismatches.length - 20} more`)
  }
  if (f.expected !== undefined) out.push(`  expected: ${short(f.expected, 2000)}`)
  if (f.actual !== undefined) out.push(`  actual:   ${short(f.actual, 2000)}`)
  return out
}

/** The target's addresses for a header; a cluster names its size and every node. */
export function describeTarget(info: TargetInfo): string {
  if (!info.nodes) return Object.values(info.addresses).join(' ')
  const each = info.nodes.map((a, i) => `node ${i + 1} ${Object.values(a).join(' ')}`)
  return `a cluster of ${info.nodes.length} node${info.nodes.length === 1 ? '' : 's'}: ${each.join('; ')}`
}

export function caseLabel(r: Pick<CaseResult, 'transport' | 'id'>): string {
  return `${r.transport}:${r.id}`
}

export function short(v: unknown, max = 300): string {
  const s = v === undefined ? 'undefined' : JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x))
  return s.length > max ? `${s.slice(0, max)}…` : s
}
