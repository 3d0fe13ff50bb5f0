// Phase 2 of a run: the server under test — fixed addresses (--target), a
// command that prints its listening line (--spawn), or the bundled reference
// server started from dist/; each of them also as a cluster of N nodes
// (several --target addresses of a transport, --spawn with --nodes N,
// --cluster N).
import { existsSync } from 'node:fs'
import { type Engine, EngineMissing, startPostgres, startRedis } from '../../src/cli/engines.js'
import { UsageError } from '../../src/cli/usage-error.js'
import { type ClusterNode, ClusterTarget, nodesOfTargets } from './cluster-target.js'
import { FixedTarget, type SpawnOptions, SpawnedTarget, stopOnInterrupt, TERM_GRACE_MS, type Target } from './target.js'

/** How long a spawned server may take to print its listening line (× time scale). */
const SPAWN_TIMEOUT_MS = 20_000

/** Most nodes a cluster target may have: each is a process on the runner's machine or an address to spread cases over. */
export const MAX_NODES = 16

export interface TargetOptions {
  targets?: string[]
  spawn?: string
  /** With `spawn`: start that many nodes from the command ({node} = 1..N) and judge them as one cluster. */
  nodes?: number
  /** With neither targets nor spawn: the bundled cluster, a throw-away PostgreSQL and Redis and this many reference nodes. */
  cluster?: number
  /**
   * The bundled cluster's node command (argv, no shell) with placeholders
   * {postgres} {redis} {node} {secret} {datadir}; default: the reference
   * server's `serve --postgres … --redis …`. Tests inject their own.
   */
  clusterCommand?: string[]
  serverLog?: string
}

export async function openTarget(
  o: TargetOptions,
  bundledCli: string,
  secret: string,
  timeScale: number,
  runStarted: number,
): Promise<Target> {
  if (o.targets?.length && o.spawn) throw new UsageError('use either --target or --spawn, not both')
  if (o.cluster !== undefined && (o.targets?.length || o.spawn))
    throw new UsageError('--cluster starts the bundled cluster: use it without --target and --spawn')
  if (o.nodes !== undefined && !o.spawn)
    throw new UsageError(
      '--nodes goes with --spawn (several --target addresses form a cluster by themselves; --cluster N for the bundled one)',
    )
  for (const [flag, n] of [
    ['--nodes', o.nodes],
    ['--cluster', o.cluster],
  ] as const)
    if (n !== undefined && !(Number.isInteger(n) && n >= 1 && n <= MAX_NODES))
      throw new UsageError(`${flag} ${n}: expected an integer from 1 to ${MAX_NODES}`)
  if (o.targets?.length) {
    const nodes = nodesOfTargets(o.targets)
    if (nodes.length === 1) return new FixedTarget(nodes[0] as (typeof nodes)[number])
    return new ClusterTarget(
      nodes.map((a) => new FixedTarget(a)),
      { mode: 'address' },
    )
  }
  const common = {
    secret,
    startTimeoutMs: SPAWN_TIMEOUT_MS * timeScale,
    termGraceMs: TERM_GRACE_MS * timeScale,
    runStarted,
    ...(o.serverLog ? { logFile: o.serverLog } : {}),
  }
  if (o.spawn) {
    if ((o.nodes ?? 1) === 1) return SpawnedTarget.start({ ...common, command: o.spawn, mode: 'spawn' })
    return startNodes({ ...common, command: o.spawn, mode: 'spawn' }, o.nodes as number, {
      mode: 'spawn',
      command: o.spawn,
    })
  }
  if (!o.clusterCommand && !existsSync(bundledCli))
    throw new UsageError(
      `the bundled reference server is not built (${bundledCli} is missing): run \`npm run build\`, or use --target / --spawn`,
    )
  // --cluster 1 too: one reference node on PostgreSQL and Redis, not the SQLite server.
  if (o.cluster !== undefined) return startBundledCluster(o, bundledCli, common, o.cluster)
  const argv = [
    process.execPath,
    bundledCli,
    'serve',
    '--tcp',
    '127.0.0.1:0',
    '--ws',
    '127.0.0.1:0/imwire',
    '--data-dir',
    '{datadir}',
    '--token-secret',
    '{secret}',
  ]
  return SpawnedTarget.start({ ...common, command: argv, mode: 'bundled' })
}

/**
 * Starts `count` nodes of one command, one at a time: a node may create or
 * migrate the shared schema when it starts, and one at a time never races two
 * of them. A node that fails to start stops the ones already running.
 */
async function startNodes(
  opts: SpawnOptions,
  count: number,
  how: ConstructorParameters<typeof ClusterTarget>[1],
): Promise<ClusterTarget> {
  const nodes: ClusterNode[] = []
  try {
    for (let node = 1; node <= count; node++) nodes.push(await SpawnedTarget.start({ ...opts, node }))
  } catch (err) {
    await Promise.all(nodes.map((n) => n.stop()))
    throw new Error(`node ${nodes.length + 1} of ${count}: ${(err as Error).message}`)
  }
  return new ClusterTarget(nodes, how)
}

/**
 * `--cluster N`: a throw-away PostgreSQL and Redis (src/cli/engines.ts), then N
 * reference nodes sharing them. Everything is stopped with the target, and by
 * an interrupt (stopSpawnedServers) if the run is cut short.
 */
async function startBundledCluster(
  o: TargetOptions,
  bundledCli: string,
  common: Omit<SpawnOptions, 'command' | 'mode'>,
  count: number,
): Promise<ClusterTarget> {
  const engines: Engine[] = []
  const stopEngines = async () => {
    await Promise.all(engines.splice(0).map((e) => e.stop().catch(() => {})))
  }
  const forget = stopOnInterrupt(stopEngines)
  const afterStop = async () => {
    await stopEngines()
    forget()
  }
  try {
    // fsync off: the runner restarts the nodes, never the database, so its durability is not under test.
    const kept = (e: Engine) => {
      engines.push(e)
      return e
    }
    const [pg, redis] = await Promise.all([startPostgres({ durable: false }).then(kept), startRedis().then(kept)])
    const template = o.clusterCommand ?? [
      process.execPath,
      bundledCli,
      'serve',
      '--postgres',
      '{postgres}',
      '--redis',
      '{redis}',
      '--node-id',
      '{node}',
      '--tcp',
      '127.0.0.1:0',
      '--ws',
      '127.0.0.1:0/imwire',
      '--token-secret',
      '{secret}',
    ]
    const command = template.map((a) => a.replaceAll('{postgres}', pg.url).replaceAll('{redis}', redis.url))
    const target = await startNodes({ ...common, command, mode: 'bundled' }, count, {
      mode: 'bundled',
      command: command.join(' '),
      afterStop,
    })
    return target
  } catch (err) {
    await afterStop()
    if (err instanceof EngineMissing) throw new UsageError(`--cluster: ${err.message}`)
    throw err
  }
}
