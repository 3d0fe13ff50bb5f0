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
  if (s.description) out.push('', s.description)
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
    steps.forEach((st, i) => {
      const step = st as Record<string, unknown>
      const { steps: inner, parallel, ...rest } = step
      out.push(`${indent}${prefix}[${i}] ${JSON.stringify(rest)}`)
      if (Array.isArray(inner)) walk(inner, `${indent}  `, `${prefix}[${i}].steps`)
      if (Array.isArray(parallel))
        for (const [j, b] of (parallel as unknown[][]).entries())
          walk(b, `${indent}  `, `${prefix}[${i}].parallel[${j}]`)
    })
  }
  walk(s.steps, '  ', 'steps')
  return `${out.join('\n')}\n`
}
