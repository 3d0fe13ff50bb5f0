// What a measured window cost, process by process: CPU of each server node,
// of every PostgreSQL process, of Redis and of this load generator (Linux
// /proc utime + stime), and PostgreSQL's commit counters. On a machine with
// fewer cores than processes under test, throughput says little; CPU per
// message says what a dedicated core would carry.
import { readdirSync, readFileSync } from 'node:fs'
import Client from 'pg-native'
import { cpuMsOf, type WindowHooks } from './load.js'

/** utime, stime, cutime, cstime and ppid of a process (null: it is gone). */
function statOf(pid: number): { ppid: number; ownMs: number; reapedMs: number } | null {
  let stat: string
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return null
  }
  // After the ")" closing the command name: state ppid ... (1-based field 4 is ppid).
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const tick = (i: number) => (Number(f[i]) * 1000) / 100 // clock ticks, 100 Hz on Linux
  return { ppid: Number(f[1]), ownMs: tick(11) + tick(12), reapedMs: tick(13) + tick(14) }
}

/**
 * CPU ms of a process and all its children (one level: PostgreSQL's
 * postmaster and its backends and auxiliary processes). A child that exits
 * inside the window moves its CPU into the parent's cutime/cstime when
 * reaped, so counting those too keeps a delta right across exits.
 */
export function treeCpuMs(root: number): number {
  const self = statOf(root)
  if (self === null) return Number.NaN
  let total = self.ownMs + self.reapedMs
  for (const name of readdirSync('/proc')) {
    const pid = Number(name)
    if (!Number.isInteger(pid) || pid === root) continue
    const s = statOf(pid)
    if (s !== null && s.ppid === root) total += s.ownMs
  }
  return total
}

/**
 * Counters of one PostgreSQL database, read on a connection of its own.
 *
 * xact_commit (pg_stat_database) counts every committed transaction,
 * read-only ones included (the nodes' commit-log polls). Since PostgreSQL 15
 * a backend publishes it at most once a second, so a reading can lag by up to
 * a second of that backend's commits. The transaction-id horizon
 * (pg_current_snapshot's xmax) moves the moment a writing transaction ends:
 * write commits, each one a WAL flush with synchronous_commit on.
 */
export class PgCounters {
  private readonly db = new Client()

  constructor(url: string) {
    this.db.connectSync(url)
    // Needs shared_preload_libraries = pg_stat_statements (deployments.ts starts PostgreSQL so).
    this.db.querySync('CREATE EXTENSION IF NOT EXISTS pg_stat_statements')
  }

  read(): PgCounterValues {
    const r = this.db.querySync(
      `SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = 'postgres') AS c,
              pg_snapshot_xmax(pg_current_snapshot())::text AS x,
              pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::text AS w,
              (SELECT sum(calls) FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat%')::text AS s`,
    )[0] as { c: string; x: string; w: string; s: string | null }
    return { xactCommit: Number(r.c), xidHorizon: Number(r.x), walBytes: Number(r.w), statements: Number(r.s ?? 0) }
  }

  /**
   * Median wall time of `SELECT 1` from this process: one round trip to a
   * backend. A node's writer thread runs its statements one after another
   * (synchronous libpq), so this bounds how many it can run per second.
   */
  roundTripMs(samples = 201): number {
    const t: number[] = []
    for (let i = 0; i < samples; i++) {
      const t0 = performance.now()
      this.db.querySync('SELECT 1')
      t.push(performance.now() - t0)
    }
    t.sort((a, b) => a - b)
    return t[Math.floor(samples / 2)] as number
  }

  /**
   * Median wall time of a one-row write transaction (BEGIN, UPDATE, COMMIT
   * with synchronous_commit on), on an idle server: the floor of one commit,
   * WAL flush included. The commit-log head row is held that long by every
   * committing group (src/server/cluster/pg-runner.ts).
   */
  commitLatencyMs(samples = 41): number {
    this.db.querySync('CREATE TABLE IF NOT EXISTS bench_commit_probe (one BOOLEAN PRIMARY KEY, n BIGINT NOT NULL)')
    this.db.querySync('INSERT INTO bench_commit_probe VALUES (TRUE, 0) ON CONFLICT DO NOTHING')
    const t: number[] = []
    for (let i = 0; i < samples; i++) {
      const t0 = performance.now()
      this.db.querySync('BEGIN')
      this.db.querySync('UPDATE bench_commit_probe SET n = n + 1')
      this.db.querySync('COMMIT')
      t.push(performance.now() - t0)
    }
    t.sort((a, b) => a - b)
    return t[Math.floor(samples / 2)] as number
  }

  close(): void {
    this.db.end()
  }
}

export interface PgCounterValues {
  xactCommit: number
  xidHorizon: number
  /** WAL position in bytes. */
  walBytes: number
  /**
   * Statements executed by every client, this reader's own excluded
   * (pg_stat_statements, counted as each statement ends; BEGIN and COMMIT
   * included): the round trips the nodes' writer threads made.
   */
  statements: number
}

export interface CostTargets {
  /** Server node process ids (each process's threads included). */
  nodes: number[]
  /** PostgreSQL: the postmaster's pid (its children are found via /proc) and a counter reader. */
  postgres?: { postmaster: number; counters: PgCounters }
  redis?: number
}

export interface Cost {
  wallMs: number
  /** CPU ms of each node, in the order of CostTargets.nodes. */
  nodeMs: number[]
  pgMs: number
  /** pg_stat_database.xact_commit delta (see PgCounters). */
  pgXacts: number
  /** Write transactions (transaction-id horizon delta). */
  pgWriteCommits: number
  pgWalBytes: number
  pgStatements: number
  redisMs: number
  /** This process (the load generator). */
  genMs: number
}

/** Start/stop hooks for a load driver's measurement window; cost() after stop(). */
export class CostMeter implements WindowHooks {
  private t0 = 0
  private nodes0: number[] = []
  private pg0 = 0
  private counters0: PgCounterValues = { xactCommit: 0, xidHorizon: 0, walBytes: 0, statements: 0 }
  private redis0 = 0
  private gen0 = 0
  private result: Cost | null = null

  constructor(private readonly targets: CostTargets) {}

  private genMs(): number {
    const u = process.cpuUsage()
    return (u.user + u.system) / 1000
  }

  start(): void {
    const t = this.targets
    this.result = null
    this.counters0 = t.postgres?.counters.read() ?? this.counters0
    this.pg0 = t.postgres === undefined ? 0 : treeCpuMs(t.postgres.postmaster)
    this.redis0 = t.redis === undefined ? 0 : cpuMsOf(t.redis)
    this.nodes0 = t.nodes.map(cpuMsOf)
    this.gen0 = this.genMs()
    this.t0 = performance.now()
  }

  stop(): void {
    const t = this.targets
    const wallMs = performance.now() - this.t0
    const genMs = this.genMs() - this.gen0
    const nodeMs = t.nodes.map((pid, i) => cpuMsOf(pid) - (this.nodes0[i] as number))
    const redisMs = t.redis === undefined ? 0 : cpuMsOf(t.redis) - this.redis0
    const pgMs = t.postgres === undefined ? 0 : treeCpuMs(t.postgres.postmaster) - this.pg0
    const c = t.postgres?.counters.read()
    this.result = {
      wallMs,
      nodeMs,
      pgMs,
      pgXacts: c === undefined ? 0 : c.xactCommit - this.counters0.xactCommit,
      pgWriteCommits: c === undefined ? 0 : c.xidHorizon - this.counters0.xidHorizon,
      pgWalBytes: c === undefined ? 0 : c.walBytes - this.counters0.walBytes,
      pgStatements: c === undefined ? 0 : c.statements - this.counters0.statements,
      redisMs,
      genMs,
    }
  }

  cost(): Cost {
    if (this.result === null) throw new Error('CostMeter: cost() before stop()')
    return this.result
  }
}
