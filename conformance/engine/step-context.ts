// What a case runs in (CaseEnv, given by the suite) and what every step
// implementation gets (StepContext, built by the case runner). Its own module
// so that the case runner and the step implementations import it, not each
// other.
import type { OpenOptions, Transport, TransportKind } from '../drivers/transport.js'
import type { Scenario } from '../load/scenario-types.js'
import type { LatencyLog } from './latency.js'
import type { NodePlacement } from './node-placement.js'
import type { ScenarioConnection } from './scenario-connection.js'
import type { CaseNames, CaseState } from './scope.js'
import type { Transcript } from './transcript.js'

export interface ServerControl {
  /** Resolves once the server listens again; `lingeredMs`: it ignored SIGTERM that long and was killed. */
  restart(mode: 'kill' | 'graceful'): Promise<{ lingeredMs?: number }>
}

export interface CaseEnv {
  scenario: Scenario
  transport: TransportKind
  caseIndex: number
  runId: string
  secret: string
  timeScale: number
  /**
   * Open a transport to the target as it is now (addresses change across
   * restarts); `node` (0-based, from `nodes`) picks a node of a cluster.
   */
  open(kind: TransportKind, timeoutMs: number, options?: OpenOptions, node?: number): Promise<Transport>
  /** A cluster target: the node each connection of the case goes to. Absent: one server. */
  nodes?: NodePlacement
  server: ServerControl | null
  /**
   * Crashes of a spawned server recorded so far, and whether it died after
   * such a mark (see Target.diedSince). Absent: the runner cannot tell.
   */
  crashMark?: () => number
  diedSince?: (mark: number, waitMs: number) => Promise<boolean>
  /** Keep the transcript whole (no shortened values, full hex, no entry limit). */
  wholeTranscript?: boolean
  /** The target's (or a cluster node's) WebSocket URL as it is now, for steps below the WebSocket layer ([HS-17]). */
  wsAddress?: (node?: number) => string | undefined
}

/** What step implementations get. */
export interface StepContext {
  env: CaseEnv
  names: CaseNames
  state: CaseState
  transcript: Transcript
  conns: Map<string, ScenarioConnection>
  /** A harness wait stretched by --time-scale (never a protocol bound). */
  scale(ms: number): number
  /** Milliseconds left in the scenario budget. */
  left(): number
  conn(name: string): ScenarioConnection
  /** The server's answer times in this case. */
  latency: LatencyLog
}
