// `imwire conformance coverage`: every requirement id in spec.md with the
// session scenarios, codec vectors and client scenarios that cover it. A MUST
// whose "Tested by" names session, codec or client and has no vector of that
// kind fails the kit.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { compareIds } from '../engine/suite-report.js'
import type { Scenario } from '../load/scenario-types.js'
import type { Requirement, SpecIndex } from '../load/spec-index.js'

export interface CoverageRow {
  id: string
  level: string
  testedBy: string[]
  session: string[]
  codec: string[]
  /** Client scenarios (vectors/client): the kit plays the server and judges a client. */
  client: string[]
  status: 'covered' | 'missing' | 'exempt' | 'untracked'
  /** What is missing, or the exemption reason. */
  note?: string
}

export interface CoverageResult {
  rows: CoverageRow[]
  usesIndexTable: boolean
  /** Requirement ids cited by codec vectors that spec.md does not define. */
  unknownCited: string[]
  ok: boolean
}

/** Every {id, requirements[]} object in the codec vector files. */
export function loadCodecVectorRefs(dir: string): Array<{ id: string; requirements: string[]; file: string }> {
  const out: Array<{ id: string; requirements: string[]; file: string }> = []
  if (!existsSync(dir)) return out
  const walkDir = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name)
      if (statSync(p).isDirectory()) walkDir(p)
      else if (name.endsWith('.json')) {
        let doc: unknown
        try {
          doc = JSON.parse(readFileSync(p, 'utf8'))
        } catch {
          continue
        }
        walkJson(doc, (o) => {
          if (
            typeof o.id === 'string' &&
            Array.isArray(o.requirements) &&
            o.requirements.every((r) => typeof r === 'string')
          ) {
            out.push({ id: o.id, requirements: o.requirements as string[], file: relative(dir, p) })
          }
        })
      }
    }
  }
  walkDir(dir)
  return out
}

function walkJson(v: unknown, fn: (o: Record<string, unknown>) => void): void {
  if (Array.isArray(v)) for (const x of v) walkJson(x, fn)
  else if (v !== null && typeof v === 'object') {
    fn(v as Record<string, unknown>)
    for (const x of Object.values(v)) walkJson(x, fn)
  }
}

export function computeCoverage(
  spec: SpecIndex,
  scenarios: Scenario[],
  codec: Array<{ id: string; requirements: string[] }>,
  client: Array<{ id: string; requirements: string[] }> = [],
): CoverageResult {
  const bySession = new Map<string, string[]>()
  const byCodec = new Map<string, string[]>()
  const byClient = new Map<string, string[]>()
  for (const c of client) for (const r of c.requirements) byClient.set(r, [...(byClient.get(r) ?? []), c.id])
  for (const s of scenarios) for (const r of s.requirements) bySession.set(r, [...(bySession.get(r) ?? []), s.id])
  for (const c of codec) for (const r of c.requirements) byCodec.set(r, [...(byCodec.get(r) ?? []), c.id])
  const rows: CoverageRow[] = []
  for (const req of [...spec.requirements.values()].sort((a, b) => compareIds(a.id, b.id)))
    rows.push(row(req, bySession.get(req.id) ?? [], byCodec.get(req.id) ?? [], byClient.get(req.id) ?? []))
  const unknownCited = [...new Set([...byCodec.keys(), ...byClient.keys()])]
    .filter((id) => !spec.requirements.has(id))
    .sort(compareIds)
  return { rows, usesIndexTable: spec.hasIndexTable, unknownCited, ok: rows.every((r) => r.status !== 'missing') }
}

function row(req: Requirement, session: string[], codec: string[], client: string[]): CoverageRow {
  const base = { id: req.id, level: req.level, testedBy: req.testedBy, session, codec, client }
  if (req.exempt !== undefined) return { ...base, status: 'exempt', note: req.exempt }
  const must = req.level === 'MUST' || req.level === 'MUST NOT'
  const missing: string[] = []
  for (const kind of req.testedBy) {
    if (kind === 'session' && session.length === 0) missing.push('session')
    if (kind === 'codec' && codec.length === 0) missing.push('codec')
    if (kind === 'client' && client.length === 0) missing.push('client')
    if (kind === 'any' && session.length + codec.length === 0) missing.push('session or codec')
  }
  if (missing.length > 0 && must) return { ...base, status: 'missing', note: `no ${missing.join(' or ')} vector` }
  if (session.length + codec.length + client.length > 0)
    return { ...base, status: 'covered', ...(missing.length ? { note: `no ${missing.join('/')} vector` } : {}) }
  return { ...base, status: 'untracked' }
}

export function renderCoverage(c: CoverageResult): string {
  const lines: string[] = []
  lines.push(
    c.usesIndexTable
      ? 'requirement index: spec.md Appendix A'
      : 'requirement index: not found in spec.md; every MUST needs a vector (client rules exempt)',
  )
  const w = Math.max(...c.rows.map((r) => r.id.length), 6)
  for (const r of c.rows) {
    const mark =
      r.status === 'covered'
        ? 'ok     '
        : r.status === 'missing'
          ? 'MISSING'
          : r.status === 'exempt'
            ? 'exempt '
            : '-      '
    const vectors = [
      ...r.session.map((s) => `session:${s}`),
      ...r.codec.map((s) => `codec:${s}`),
      ...r.client.map((s) => `client:${s}`),
    ]
    const tail =
      r.status === 'exempt'
        ? `(${r.note})`
        : r.status === 'missing'
          ? `(${r.note}; tested by: ${r.testedBy.join(', ')})`
          : vectors.join(' ')
    lines.push(`${mark} ${r.id.padEnd(w)} ${r.level.padEnd(6)} ${tail}`)
  }
  const n = (st: CoverageRow['status']) => c.rows.filter((r) => r.status === st).length
  for (const id of c.unknownCited) lines.push(`warning: vectors cite ${id}, which spec.md does not define`)
  lines.push(
    `${c.rows.length} requirements: ${n('covered')} covered, ${n('missing')} missing, ${n('exempt')} exempt, ${n('untracked')} without vectors and not required to have one`,
  )
  return `${lines.join('\n')}\n`
}
