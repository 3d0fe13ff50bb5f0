// Requirement ids and their text, read from spec.md. The spec is the single
// source: vectors may only cite ids defined here, `explain` prints the text,
// and `coverage` uses Appendix A ("Requirement index") when the spec has it.
import { readFileSync } from 'node:fs'

export type Level = 'MUST' | 'MUST NOT' | 'SHOULD' | 'SHOULD NOT' | 'MAY' | 'INFO'

export interface Requirement {
  id: string
  /** Normative level; INFO when the definition carries no RFC 2119 word. */
  level: Level
  /** Who the rule binds (server, client, both, ...) when the spec says. */
  party: string
  /** Vector kinds that must cover it ("session", "codec", "client"); empty when exempt or untested by vectors. */
  testedBy: string[]
  /** Reason when Appendix A marks it `none: reason`. */
  exempt?: string
  /** Definition text from the body of the spec (or the index summary). */
  text: string
  /** Whether Appendix A lists it. */
  indexed: boolean
}

export interface SpecIndex {
  requirements: Map<string, Requirement>
  /** True when Appendix A's table was found and used. */
  hasIndexTable: boolean
}

const ID = /[A-Z]{2,5}-\d{1,3}/
const DEF_BULLET = /^\s*[-*+]\s+\*{0,2}\[([A-Z]{2,5}-\d{1,3})\]\*{0,2}/
const DEF_BOLD = /\*\*\[([A-Z]{2,5}-\d{1,3})\]\*\*/g

export function loadSpecIndex(specPath: string): SpecIndex {
  return parseSpec(readFileSync(specPath, 'utf8'))
}

export function parseSpec(markdown: string): SpecIndex {
  const lines = markdown.split(/\r?\n/)
  const requirements = new Map<string, Requirement>()
  // A heading such as "## Retry (RTY) — client rules" makes its bullets client rules.
  let clientSection = false
  // Definitions in the body: a bullet starting with [ID], or **[ID]** anywhere.
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string
    if (/^#{1,6}\s/.test(line)) clientSection = /client rules|\(client\)/i.test(line)
    const bullet = DEF_BULLET.exec(line)
    const ids: string[] = []
    if (bullet) ids.push(bullet[1] as string)
    for (const m of line.matchAll(DEF_BOLD)) if (!ids.includes(m[1] as string)) ids.push(m[1] as string)
    if (ids.length === 0 || line.trimStart().startsWith('|')) continue
    const text = paragraphAt(lines, i, bullet !== null)
    for (const id of ids) {
      if (requirements.has(id)) continue
      const after = text.slice(text.indexOf(`[${id}]`) + id.length + 2)
      requirements.set(id, {
        id,
        level: levelOf(after),
        party: /\((client|server)\)/i.exec(after.slice(0, 40))?.[1]?.toLowerCase() ?? (clientSection ? 'client' : ''),
        testedBy: [],
        text,
        indexed: false,
      })
    }
  }
  const hasIndexTable = readIndexTable(lines, requirements)
  if (!hasIndexTable) {
    // Without the index every MUST is expected to have some vector, except
    // rules the text says bind the client (the suite tests servers).
    for (const r of requirements.values()) {
      if (r.party === 'client') r.exempt = 'client rule (the suite tests servers)'
      else if (r.level === 'MUST' || r.level === 'MUST NOT') r.testedBy = ['any']
    }
  }
  return { requirements, hasIndexTable }
}

/** The bullet or paragraph starting at line i, joined into one line. */
function paragraphAt(lines: string[], i: number, isBullet: boolean): string {
  const out = [(lines[i] as string).trim().replace(/^[-*+]\s+/, '')]
  for (let j = i + 1; j < lines.length; j++) {
    const l = lines[j] as string
    if (l.trim() === '' || /^\s*([-*+]\s|#|\|)/.test(l)) break
    if (isBullet && !/^\s/.test(l)) break
    out.push(l.trim())
  }
  // `**[HB-2]** text` -> `[HB-2] text`
  return out.join(' ').replace(/\*\*\[([A-Z]{2,5}-\d{1,3})\]\*\*/g, '[$1]')
}

function levelOf(text: string): Level {
  const m = /\b(MUST NOT|MUST|SHOULD NOT|SHOULD|MAY)\b/.exec(text)
  return (m?.[1] as Level | undefined) ?? 'INFO'
}

/** Appendix A: `| Id | Level | Party | Tested by | Summary |`. Returns whether found. */
function readIndexTable(lines: string[], reqs: Map<string, Requirement>): boolean {
  for (let i = 0; i < lines.length; i++) {
    const cells = splitRow(lines[i] as string)
    if (cells === null) continue
    const lower = cells.map((c) => c.toLowerCase())
    const col = (name: string) => lower.indexOf(name)
    if (col('id') < 0 || col('level') < 0 || col('tested by') < 0) continue
    const [cId, cLevel, cParty, cTested, cSummary] = [
      col('id'),
      col('level'),
      col('party'),
      col('tested by'),
      col('summary'),
    ]
    for (let j = i + 2; j < lines.length; j++) {
      const row = splitRow(lines[j] as string)
      if (row === null) break
      const id = ID.exec(row[cId] ?? '')?.[0]
      if (id === undefined) continue
      const tested = (row[cTested] ?? '').trim()
      const existing = reqs.get(id)
      const level = levelOf((row[cLevel] ?? '').toUpperCase())
      const r: Requirement = existing ?? { id, level, party: '', testedBy: [], text: '', indexed: true }
      r.indexed = true
      r.level = level
      if (cParty >= 0) r.party = (row[cParty] ?? '').trim().toLowerCase()
      if (r.text === '' && cSummary >= 0) r.text = (row[cSummary] ?? '').trim()
      const none = /^none\b\s*:?\s*(.*)$/i.exec(tested)
      if (none) {
        r.exempt = (none[1] ?? '').trim() || 'not tested by vectors'
        r.testedBy = []
      } else {
        r.testedBy = tested
          .toLowerCase()
          .split(/[\s,/+;]+/)
          .filter((k) => k === 'session' || k === 'codec' || k === 'client')
      }
      reqs.set(id, r)
    }
    return true
  }
  return false
}

function splitRow(line: string): string[] | null {
  const t = line.trim()
  if (!t.startsWith('|')) return null
  const cells = t.replace(/^\|/, '').replace(/\|$/, '').split('|')
  return cells.map((c) => c.trim())
}
