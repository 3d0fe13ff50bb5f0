// `imwire conformance list` and `explain ID`.
import type { Scenario } from '../load/scenario-types.js'
import type { SpecIndex } from '../load/spec-index.js'

export function renderList(scenarios: Scenario[]): string {
  const w = Math.max(...scenarios.map((s) => s.id.length), 2)
  const lines = scenarios.map((s) => {
    const extra = [
      s.features.length ? `features=${s.features.join(',')}` : '',
      s.needs.length ? `needs=${s.needs.join(',')}` : '',
    ]
      .filter(Boolean)
      .join(' ')
    return `${s.id.padEnd(w)}  ${s.level.padEnd(6)} ${s.requirements.join(',')}${extra ? `  ${extra}` : ''}`
  })
  return `${lines.join('\n')}\n${scenarios.length} scenarios\n`
}

export function renderExplain(s: Scenario, spec: SpecIndex): string {
  const out: string[] = []
  out.push(`${s.id} — ${s.title}`)
  out.push(`file: ${s.file}`)
  out.push(
    `level: ${s.level}; timeout ${s.timeoutMs} ms${s.features.length ? `; features: ${s.features.join(', ')}` : ''}${s.needs.length ? `; needs: ${s.needs.join(', ')}` : ''}`,
  )
  if (s.description) out.push('', withoutNoteRefs(s.description))
  out.push('', 'requirements:')
  for (const id of s.requirements) {
    const r = spec.requirements.get(id)
    out.push(
      `  [${id}] ${
        r
          ? `(${r.level}) ${r.text
              .replace(`[${id}]`, '')
              .trim()
              .replace(/^(MUST NOT|MUST|SHOULD NOT|SHOULD|MAY)\s*:\s*/, '')}`
          : '(not in spec.md)'
      }`,
    )
  }
  out.push('', 'actors:')
  for (const [name, a] of Object.entries(s.actors)) out.push(`  ${name}: user ${a.user}, device ${a.device}`)
  out.push('', 'steps:')
  const walk = (steps: unknown[], indent: string, prefix: string) => {
    for (const run of runsOf(steps)) {
      const i = run.start
      const step = steps[i] as Record<string, unknown>
      const { steps: inner, parallel, ...rest } = step
      const label = run.count > 1 ? `${prefix}[${i}..${i + run.count - 1}]` : `${prefix}[${i}]`
      out.push(
        `${indent}${label} ${withoutNoteRefs(JSON.stringify(collapse(rest)))}${run.count > 1 ? ` ×${run.count}` : ''}`,
      )
      if (Array.isArray(inner)) walk(inner, `${indent}  `, `${prefix}[${i}].steps`)
      if (Array.isArray(parallel))
        for (const [j, b] of (parallel as unknown[][]).entries())
          walk(b, `${indent}  `, `${prefix}[${i}].parallel[${j}]`)
    }
  }
  walk(s.steps, '  ', 'steps')
  return `${out.join('\n')}\n`
}

/** Same shape: equal once numbers (indexes, ids like f0/f1) are ignored. */
function shape(v: unknown): string {
  return JSON.stringify(v).replace(/\d+/g, 'N')
}

/** Consecutive runs of same-shaped items. */
function runsOf(items: unknown[]): Array<{ start: number; count: number }> {
  const runs: Array<{ start: number; count: number }> = []
  for (let i = 0; i < items.length; i++) {
    const last = runs[runs.length - 1]
    if (last && shape(items[last.start]) === shape(items[i])) last.count++
    else runs.push({ start: i, count: 1 })
  }
  return runs
}

/** Arrays of repeated same-shaped items become the first item and a count: 300 Sends are one line. */
function collapse(v: unknown): unknown {
  if (Array.isArray(v)) {
    const out: unknown[] = []
    for (const run of runsOf(v)) {
      out.push(collapse(v[run.start]))
      if (run.count > 1) out.push(`…×${run.count} like this`)
    }
    return out
  }
  if (v !== null && typeof v === 'object')
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, collapse(x)]))
  return v
}

/** References to the project's internal notes mean nothing to an implementer. */
export function withoutNoteRefs(text: string): string {
  return text.replace(/\s*\([^()]*(?:\.md\b|notes\/)[^()]*\)/g, '')
}
