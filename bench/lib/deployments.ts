// The server deployments `npm run bench:cluster` compares: one node on the
// embedded SQLite store, and N nodes sharing one throw-away PostgreSQL and
// one Redis (src/cli/engines.ts). The engines live for a whole configuration;
// the nodes are started per group of rows (restartNodes) so that a row does
// not inherit the previous row's heap, as in bench/server.ts.
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { type Engine, startPostgres, startRedis } from '../../src/cli/engines.js'
import { type ServerChild, spawnServer } from './child.js'
import { type CostTargets, PgCounters } from './cost.js'

export interface Deployment {
  /** Row label, e.g. "PostgreSQL, 3 nodes". */
  readonly name: string
  readonly nodes: ServerChild[]
  /** TCP address of each node. */
  readonly addrs: string[]
  readonly targets: CostTargets
  /** PostgreSQL's counters (cluster deployments). */
  readonly counters: PgCounters | null
  /** (Re)start the nodes: fresh processes on the same store and engines. Nothing runs before the first call. */
  restartNodes(): Promise<void>
  stop(): Promise<void>
  /** Every line every node printed, prefixed by its node, for the log check and --server-log. */
  readonly log: string[]
}

interface NodeSpec {
  cli: string
  secret: string
  /** Store flags: --data-dir DIR, or --postgres URL --redis URL --node-id NAME. */
  storeArgs: (index: number) => string[]
}

async function spawnNodes(spec: NodeSpec, count: number, log: string[]): Promise<ServerChild[]> {
  // One at a time: the first node of a fresh database runs the migration.
  const nodes: ServerChild[] = []
  for (let i = 0; i < count; i++) {
    const node = await spawnServer(
      process.execPath,
      [spec.cli, 'serve', '--tcp', '127.0.0.1:0', '--ws', 'off', '--token-secret', spec.secret, ...spec.storeArgs(i)],
      { want: ['tcp'] },
    )
    const label = `node ${i} (pid ${node.proc.pid})`
    void node.exited.then((code) => {
      log.push(...node.output.map((l) => `${label}: ${l}`))
      if (code !== 0 && code !== null) log.push(`${label}: exited with code ${code}`)
    })
    nodes.push(node)
  }
  return nodes
}

class NodeSet implements Deployment {
  nodes: ServerChild[] = []
  addrs: string[] = []
  targets: CostTargets = { nodes: [] }
  readonly log: string[] = []

  constructor(
    readonly name: string,
    private readonly spec: NodeSpec,
    private readonly count: number,
    private readonly engines: { postgres: Engine; redis: Engine; counters: PgCounters } | null,
    private readonly cleanup: () => void,
  ) {}

  get counters(): PgCounters | null {
    return this.engines?.counters ?? null
  }

  async restartNodes(): Promise<void> {
    await this.stopNodes()
    this.nodes = await spawnNodes(this.spec, this.count, this.log)
    this.addrs = this.nodes.map((n) => n.tcp as string)
    const e = this.engines
    this.targets = {
      nodes: this.nodes.map((n) => n.proc.pid as number),
      ...(e === null ? {} : { postgres: { postmaster: e.postgres.pid, counters: e.counters }, redis: e.redis.pid }),
    }
  }

  private async stopNodes(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()))
    // Let the exit handlers copy the output into the log.
    await new Promise((r) => setImmediate(r))
    this.nodes = []
  }

  async stop(): Promise<void> {
    await this.stopNodes()
    if (this.engines !== null) {
      this.engines.counters.close()
      await Promise.all([this.engines.postgres.stop(), this.engines.redis.stop()])
    }
    this.cleanup()
  }
}

/** One node on the embedded store (SQLite, WAL, synchronous=FULL, group commit): the default deployment. */
export async function sqliteNode(cli: string, secret: string): Promise<Deployment> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'imwire-bench-cluster-'))
  return new NodeSet('SQLite, 1 node', { cli, secret, storeArgs: () => ['--data-dir', dataDir] }, 1, null, () =>
    rmSync(dataDir, { recursive: true, force: true }),
  )
}

/**
 * `count` nodes on one fresh PostgreSQL (fsync and synchronous_commit on, as
 * engines.ts starts it, plus pg_stat_statements) and one fresh Redis.
 */
export async function clusterNodes(cli: string, secret: string, count: number): Promise<Deployment> {
  // pg_stat_statements counts the statements each message costs (bench/lib/cost.ts).
  const [postgres, redis] = await Promise.all([
    startPostgres({ settings: { shared_preload_libraries: 'pg_stat_statements' } }),
    startRedis(),
  ])
  const counters = new PgCounters(postgres.url)
  const spec: NodeSpec = {
    cli,
    secret,
    storeArgs: (i) => ['--postgres', postgres.url, '--redis', redis.url, '--node-id', `bench${i}`],
  }
  return new NodeSet(
    `PostgreSQL, ${count} node${count === 1 ? '' : 's'}`,
    spec,
    count,
    { postgres, redis, counters },
    () => {},
  )
}
