// A three-node cluster for the crash scenario (test/crash/crash-scenario.ts):
// throw-away PostgreSQL and Redis started here, three node processes, and
// clients spread over the live nodes round-robin (a client whose node died
// reconnects to the next one). While the load runs, in order:
//   1. SIGKILL one node, restart it;
//   2. crash Redis (SIGKILL), start it again empty on the same port;
//   3. crash PostgreSQL (immediate shutdown), start it again on the same data
//      (crash recovery) — the only outage in which no SendAck may arrive.
import path from 'node:path'
import { type ServerChild, spawnServer } from '../../bench/lib/child.js'
import { type Engine, startPostgres, startRedis } from '../../src/cli/engines.js'
import { CRASH_SECRET, type Deployment, type FaultReport } from '../crash/crash-scenario.js'
import { scaled } from '../support/time-scale.js'

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

export interface ClusterDeploymentOptions {
  root: string
  nodes: number
  /** Every node acks before its commit (test/cluster/faulty-node.ts): the self-check. */
  fault: 'ack-before-commit' | null
  /** Acked fractions at which the node kill, the Redis crash and the PostgreSQL crash happen. */
  at: { node: number; redis: number; postgres: number }
  /** How long PostgreSQL stays down. */
  postgresDownMs: number
  settleMs: number
}

export async function clusterDeployment(o: ClusterDeploymentOptions): Promise<Deployment & { log: string[] }> {
  const pg: Engine = await startPostgres()
  const redis: Engine = await startRedis()
  const log: string[] = []
  const startNode = (i: number): Promise<ServerChild> => {
    const common = ['--tcp', '127.0.0.1:0', '--postgres', pg.url, '--redis', redis.url, '--node-id', `n${i}`]
    const args =
      o.fault === 'ack-before-commit'
        ? [path.join(o.root, 'dist/test/cluster/faulty-node.js'), ...common, '--token-secret', CRASH_SECRET]
        : [
            path.join(o.root, 'dist/src/cli/main.js'),
            'serve',
            ...common,
            '--ws',
            'off',
            '--token-secret',
            CRASH_SECRET,
            '--log-level',
            'warn',
          ]
    return spawnServer(process.execPath, args, { want: ['tcp'], timeoutMs: scaled(60_000), cwd: o.root })
  }
  const nodes: (ServerChild | null)[] = []
  try {
    for (let i = 0; i < o.nodes; i++) nodes.push(await startNode(i))
  } catch (err) {
    await Promise.all(nodes.map((n) => n?.kill()))
    await Promise.all([pg.stop(), redis.stop()])
    throw err
  }
  const t0 = Date.now()
  const note = (s: string) => log.push(`${((Date.now() - t0) / 1000).toFixed(2)}s ${s}`)
  return {
    log,
    address(index, attempt) {
      const live = nodes.filter((n): n is ServerChild => n !== null)
      const n = live[(index + attempt) % live.length] ?? (nodes[0] as ServerChild)
      return n.tcp as string
    },
    async faults(acked, total): Promise<FaultReport> {
      const deadline = Date.now() + o.settleMs
      const until = async (fraction: number) => {
        while (acked() < total * fraction && Date.now() < deadline) await sleep(2)
      }
      const outages: FaultReport['outages'] = []
      await until(o.at.node)
      const ackedBeforeKill = acked()
      const victim = 1 % o.nodes
      note(`SIGKILL node ${victim} at ${ackedBeforeKill}/${total} acked`)
      await (nodes[victim] as ServerChild).kill()
      nodes[victim] = null
      await sleep(300)
      nodes[victim] = await startNode(victim)
      note(`node ${victim} back`)
      await until(o.at.redis)
      note(`redis crash at ${acked()}/${total} acked`)
      await redis.kill()
      await sleep(500)
      await redis.restart()
      note('redis back')
      await until(o.at.postgres)
      note(`postgres crash at ${acked()}/${total} acked`)
      const from = Date.now()
      await pg.kill()
      await sleep(o.postgresDownMs)
      const to = Date.now()
      await pg.restart()
      note('postgres back')
      outages.push({ what: 'PostgreSQL', from, to })
      return { ackedBeforeKill, outages }
    },
    async stop() {
      await Promise.all(nodes.map((n) => n?.stop(2000)))
      await Promise.all([pg.stop(), redis.stop()])
    },
  }
}
