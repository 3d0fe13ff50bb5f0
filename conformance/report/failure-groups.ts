// Failures grouped by cause. One wrong comparison in a server can fail a
// hundred cases with the same symptom; the reports lead with the symptoms
// (same step kind, same expected-vs-got shape) ranked by count, the
// requirements ranked by failures, and, per group, the case to read first:
// one that cites the rule the symptom names, if the runner could name it
// (e.g. a Deliver of the device's own message: [DLV-5]), then the most
// specific one (fewest requirements, then the earliest failing step). Also: cases where the server answered far slower than in the rest
// of the run.
import type { CaseFailure, CaseResult } from '../engine/case-types.js'
import { median } from '../engine/latency.js'
import { STEP_VERBS } from '../load/scenario-types.js'
import { caseLabel } from './format.js'

export interface FailureGroup {
  /** e.g. `expect: expected sendAck, got deliver` */
  signature: string
  count: number
  /** `transport:id` of the case to read first */
  readFirst: string
  readFirstRequirements: string[]
  /** `transport:id` of every case in the group, readFirst first */
  cases: string[]
}

export interface FailingRequirement {
  id: string
  failed: number
}

export interface SlowServer {
  /** Median answer time over every case that had answers. */
  runMedianMs: number
  /** Cases whose median answer time is far above the run's (SLOW_FACTOR x and SLOW_MIN_MS). */
  cases: Array<{ case: string; medianMs: number; answers: number }>
}

/** A case's median answer time counts as far above the run's at this factor... */
const SLOW_FACTOR = 10
/** ...and this many milliseconds (loopback answers take ~1 ms; a stall takes hundreds). */
const SLOW_MIN_MS = 200

const failing = (c: CaseResult) => c.verdict === 'fail' || c.verdict === 'error'

export function failureGroups(cases: CaseResult[]): FailureGroup[] {
  const groups = new Map<string, CaseResult[]>()
  for (const c of cases.filter(failing)) {
    const sig = signatureOf(c)
    groups.set(sig, [...(groups.get(sig) ?? []), c])
  }
  return [...groups.entries()]
    .map(([signature, members]) => {
      // A group whose cause names requirements reads first a case that cites them.
      const named = signature.match(/[A-Z]{2,4}-\d+/g) ?? []
      const citesCause = (c: CaseResult) => (named.some((id) => c.requirements.includes(id)) ? 0 : 1)
      const ranked = [...members].sort(
        (a, b) =>
          citesCause(a) - citesCause(b) ||
          a.requirements.length - b.requirements.length ||
          stepDepth(a.failure) - stepDepth(b.failure) ||
          caseLabel(a).localeCompare(caseLabel(b)),
      )
      const first = ranked[0] as CaseResult
      return {
        signature,
        count: members.length,
        readFirst: caseLabel(first),
        readFirstRequirements: first.requirements,
        cases: ranked.map(caseLabel),
      }
    })
    .sort((a, b) => b.count - a.count || a.signature.localeCompare(b.signature))
}

export function failingRequirements(cases: CaseResult[]): FailingRequirement[] {
  const n = new Map<string, number>()
  for (const c of cases.filter(failing)) for (const r of c.requirements) n.set(r, (n.get(r) ?? 0) + 1)
  return [...n.entries()]
    .map(([id, failed]) => ({ id, failed }))
    .sort((a, b) => b.failed - a.failed || a.id.localeCompare(b.id))
}

export function slowServer(cases: CaseResult[]): SlowServer | undefined {
  const withAnswers = cases.filter((c) => c.latency !== undefined)
  if (withAnswers.length === 0) return undefined
  const runMedianMs = median(withAnswers.map((c) => c.latency?.medianMs ?? 0).sort((a, b) => a - b))
  const slow = withAnswers
    .filter((c) => {
      const m = c.latency?.medianMs ?? 0
      return m >= SLOW_MIN_MS && m >= SLOW_FACTOR * runMedianMs
    })
    .sort((a, b) => (b.latency?.medianMs ?? 0) - (a.latency?.medianMs ?? 0))
    .map((c) => ({ case: caseLabel(c), medianMs: c.latency?.medianMs ?? 0, answers: c.latency?.answers ?? 0 }))
  return { runMedianMs, cases: slow }
}

/** Step kind plus the shape of expected and got; numbers, ids and quoted text do not split groups. */
export function signatureOf(c: CaseResult): string {
  if (c.verdict === 'error') return `harness error: ${normalize(c.failure?.message ?? c.reason ?? '').slice(0, 80)}`
  const f = c.failure
  if (!f) return 'failed'
  // A named cause groups every step it broke.
  if (f.hint !== undefined) return `got ${f.hint}`
  const step = f.stepJson as Record<string, unknown> | undefined
  const verb = step ? (STEP_VERBS.find((v) => v in step) ?? 'step') : '(scenario)'
  const exp = kindOf(f.expected)
  const got =
    kindOf(f.actual) ?? (/got nothing|stayed open and silent|, got 0$/.test(f.message) ? 'nothing' : undefined)
  if (exp !== undefined && got !== undefined) return `${verb}: expected ${exp}, got ${got}`
  return `${verb}: ${normalize(f.message)}`
}

function kindOf(v: unknown): string | undefined {
  if (Array.isArray(v)) {
    const kinds = [...new Set(v.map((x) => kindOf(x) ?? '?'))]
    return `[${kinds.join(', ')}]`
  }
  if (v === null || typeof v !== 'object') return undefined
  const keys = Object.keys(v)
  if (keys.length === 0) return undefined
  if (keys[0] === 'closed') return 'connection closed'
  return keys[0]
}

function normalize(message: string): string {
  return message
    .replace(/; server answers took.*$/, '')
    .replace(/cf-[a-z0-9]+-\d+-[\w.-]+/g, 'ID')
    .replace(/"[^"]*"|'[^']*'/g, '…')
    .replace(/\d+(\.\d+)?/g, 'N')
}

function stepDepth(f: CaseFailure | undefined): number {
  if (!f) return Number.MAX_SAFE_INTEGER
  const m = /^steps\[(\d+)\]/.exec(f.step)
  return m ? Number(m[1]) : Number.MAX_SAFE_INTEGER
}
