// A cluster target: N servers that share one database and form one service
// (several --target addresses of a transport, --spawn with --nodes N, or the
// bundled cluster). Each case spreads its connections over the nodes
// (node-placement.ts); a restart stops every node, then starts every node;
// a crash of any node is a crash of the target.
import type { OpenOptions, Transport, TransportKind } from '../drivers/transport.js'
import {
  type Addresses,
  parseTarget,
  type RestartOutcome,
  type ServerCrash,
  type Target,
  type TargetInfo,
  UsageError,
} from './target.js'

/** A node that can be restarted in two halves (SpawnedTarget), so that a cluster stops all before starting any. */
export interface ClusterNode extends Target {
  shutDown?(mode: 'kill' | 'graceful'): Promise<RestartOutcome>
  startAgain?(): Promise<void>
}

export class ClusterTarget implements Target {
  readonly canRestart: boolean
  private stopping: Promise<void> | null = null

  constructor(
    private readonly nodes: ClusterNode[],
    private readonly how: {
      mode: TargetInfo['mode']
      command?: string
      /** Runs after every node has stopped (the bundled cluster's PostgreSQL and Redis). */
      afterStop?: () => Promise<void>
    },
  ) {
    if (nodes.length < 1) throw new UsageError('a cluster target needs at least one node')
    this.canRestart = nodes.every((n) => n.canRestart && n.shutDown && n.startAgain)
  }

  get size(): number {
    return this.nodes.length
  }

  /** Every node's crashes, each naming its node, in the order they happened. */
  get crashes(): ServerCrash[] {
    return this.nodes
      .flatMap((n, i) => n.crashes.map((c) => ({ ...c, node: c.node ?? i + 1 })))
      .sort((a, b) => a.at - b.at)
  }

  info(): TargetInfo {
    const nodes = this.nodes.map((n) => n.info().addresses)
    return {
      mode: this.how.mode,
      ...(this.how.command !== undefined ? { command: this.how.command } : {}),
      addresses: nodes[0] ?? {},
      nodes,
    }
  }

  /** Node 1's addresses: which transports the cluster has (every node has the same ones). */
  addresses(): Addresses {
    return (this.nodes[0] as ClusterNode).addresses()
  }

  open(kind: TransportKind, timeoutMs: number, options?: OpenOptions, node = 0): Promise<Transport> {
    return (this.nodes[node % this.nodes.length] as ClusterNode).open(kind, timeoutMs, options)
  }

  /** Stops every node, then starts every node: no node of the restarted cluster ever sees one of the old. */
  async restart(mode: 'kill' | 'graceful'): Promise<RestartOutcome> {
    if (!this.canRestart) throw new UsageError('cannot restart a cluster the runner did not start')
    const stopped = await Promise.all(this.nodes.map((n) => (n.shutDown as NonNullable<ClusterNode['shutDown']>)(mode)))
    // One at a time, as at the first start (open-target.ts: a node may migrate the shared schema).
    for (const n of this.nodes) await (n.startAgain as NonNullable<ClusterNode['startAgain']>)()
    const lingered = stopped.map((o) => o.lingeredMs ?? 0)
    const worst = Math.max(...lingered)
    return worst > 0 ? { lingeredMs: worst } : {}
  }

  async diedSince(mark: number, waitMs: number): Promise<boolean> {
    for (let waited = 0; this.crashCount() <= mark && waited < waitMs; waited += 25)
      await new Promise((r) => setTimeout(r, 25))
    if (this.crashCount() <= mark) return false
    // Wait for every node that died to listen again.
    await Promise.all(this.nodes.map((n) => n.diedSince(n.crashes.length - 1, 0)))
    return true
  }

  private crashCount(): number {
    return this.nodes.reduce((sum, n) => sum + n.crashes.length, 0)
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await Promise.all(this.nodes.map((n) => n.stop()))
      await this.how.afterStop?.()
    })()
    return this.stopping
  }
}

/**
 * The nodes that repeated --target options describe: the i-th address of
 * each transport is node i's. One address per transport is one server, as
 * before; several make a cluster, and every transport given must then list
 * one address per node (node i's WebSocket is the i-th ws:// target).
 */
export function nodesOfTargets(urls: string[]): Addresses[] {
  const tcp: NonNullable<Addresses['tcp']>[] = []
  const ws: string[] = []
  for (const url of urls) {
    const a = parseTarget(url)
    if (a.tcp) tcp.push(a.tcp)
    if (a.ws) ws.push(a.ws)
  }
  const n = Math.max(tcp.length, ws.length)
  if (tcp.length > 0 && ws.length > 0 && tcp.length !== ws.length)
    throw new UsageError(
      `${tcp.length} tcp:// target(s) and ${ws.length} ws:// target(s): a cluster lists one address of each transport per node, in node order`,
    )
  return Array.from({ length: n }, (_, i) => ({
    ...(tcp[i] ? { tcp: tcp[i] } : {}),
    ...(ws[i] !== undefined ? { ws: ws[i] } : {}),
  }))
}
