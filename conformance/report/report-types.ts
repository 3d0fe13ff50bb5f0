// The versioned run report (vectors/schema/report.schema.json documents it).
// Every reporter renders this one object.
import type { CaseResult } from '../engine/case-types.js'
import type { ServerCrash, TargetInfo } from '../engine/target.js'
import type { TransportKind } from '../drivers/transport.js'
import type { FailingRequirement, FailureGroup, SlowServer } from './failure-groups.js'

export const REPORT_VERSION = 1 as const

export type Outcome = 'conformant' | 'failures' | 'harness-error' | 'unreachable'

export interface Problem {
  kind:
    | 'load-error'
    | 'unreachable'
    | 'unauthorized'
    | 'no-welcome'
    | 'stale-known-failure'
    | 'unmatched-known-failure'
    | 'server-crash'
    | 'harness-error'
  message: string
  /** known-failures line number (stale/unmatched entries) */
  line?: number
  /** the exact line text to remove */
  text?: string
}

export interface RequirementRow {
  id: string
  level: string
  text: string
  cases: number
  passed: number
  failed: number
  skipped: number
  expectedFailures: number
  errors: number
  inconclusive: number
}

export interface Summary {
  total: number
  passed: number
  failed: number
  /** Time bounds the runner's own lag kept it from judging: never fail the run. */
  inconclusive: number
  skipped: number
  expectedFailures: number
  errors: number
  mustFailed: number
  shouldFailed: number
  staleKnownFailures: number
  durationMs: number
}

export interface Report {
  version: 1
  kit: { name: string; version: string }
  runId: string
  startedAt: string
  target: TargetInfo
  transports: TransportKind[]
  /** Features each transport's Welcome offered to the probe handshake. */
  features: Partial<Record<TransportKind, string[]>>
  options: {
    jobs: number
    timeScale: number
    strict: boolean
    cases: string[]
    requirements: string[]
    level: 'MUST' | 'SHOULD' | null
    knownFailures: string | null
    maxFailures: number | null
    /** Which cases keep their transcript in the report. */
    transcripts: 'failing' | 'all'
  }
  outcome: Outcome
  exitCode: 0 | 1 | 2 | 3
  summary: Summary
  /** Failure signatures ranked by count, each with the case to read first. */
  failureGroups: FailureGroup[]
  /** Requirements ranked by failing cases. */
  failingRequirements: FailingRequirement[]
  /** Cases whose server answers were far slower than the rest of the run (absent: no answers measured). */
  slowServer?: SlowServer
  problems: Problem[]
  serverCrashes: ServerCrash[]
  requirements: RequirementRow[]
  cases: CaseResult[]
}
