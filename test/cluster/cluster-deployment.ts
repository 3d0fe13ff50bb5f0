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
  /**
   * The node that is killed acks before its commit (test/cluster/faulty-node.ts): the
   * self-check. Only that one: faulty nodes holding their locks 150 ms each would mostly be
   * waiting on each other, not holding acked work, when the kill lands.
   */
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
  const victim = 1 % o.nodes
  const startNode = (i: number): Promise<ServerChild> => {
    const common = ['--tcp', '127.0.0.1:0', '--postgres', pg.url, '--redis', redis.url, '--node-id', `n${i}`]
    const args =
      o.fault === 'ack-before-commit' && i === victim
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
      // Self-check: every client starts on the faulty node, so an ack just
      // seen is one it sent before committing (killed right then, it is lost).
      const first = nodes[victim]
      if (o.fault !== null && attempt === 0 && first) return first.tcp as string
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
      const ackedAt: number[] = []
      await until(o.at.node)
      if (o.fault !== null) {
        // Kill right after an ack arrived: that ack's commit is still 150 ms away.
        const seen = acked()
        while (acked() === seen && Date.now() < deadline) await sleep(1)
      }
      const ackedBeforeKill = acked()
      ackedAt.push(ackedBeforeKill)
      note(`SIGKILL node ${victim} at ${ackedBeforeKill}/${total} acked`)
      await (nodes[victim] as ServerChild).kill()
      nodes[victim] = null
      // Back in the background: the load goes on over the other nodes meanwhile.
      // A node does not start while PostgreSQL is down (the crash below may
      // overlap): it is started again until it does.
      const back = (async () => {
        await sleep(300)
        for (;;) {
          try {
            nodes[victim] = await startNode(victim)
            note(`node ${victim} back`)
            return
          } catch (err) {
            if (Date.now() > deadline) throw err
            await sleep(200)
          }
        }
      })()
      await until(o.at.redis)
      ackedAt.push(acked())
      note(`redis crash at ${acked()}/${total} acked`)
      await redis.kill()
      await sleep(500)
      await redis.restart()
      note('redis back')
      await until(o.at.postgres)
      ackedAt.push(acked())
      note(`postgres crash at ${acked()}/${total} acked`)
      const from = Date.now()
      await pg.kill()
      await sleep(o.postgresDownMs)
      const to = Date.now()
      await pg.restart()
      note('postgres back')
      outages.push({ what: 'PostgreSQL', from, to })
      await back
      return { ackedBeforeKill, outages, ackedAt }
    },
    async stop() {
      await Promise.all(nodes.map((n) => n?.stop(2000)))
      await Promise.all([pg.stop(), redis.stop()])
    },
  }
}
