// Which node of a cluster target each connection of a case goes to. Round
// robin from a start that advances per case: connection i of a case goes to
// node (start + i) mod N, so every case with two connections or more crosses
// nodes, and over N cases even single-connection ones visit every node. The
// choice depends only on the case's index in the run and the order its
// connections open, so a rerun of the same selection places them the same way.
import type { TransportKind } from '../drivers/transport.js'

export interface Placement {
  /** The connection's name in the scenario. */
  conn: string
  /** 1..N, as the {node} placeholder and the report number nodes. */
  node: number
}

export class NodePlacement {
  /** Every connection the case opened, in order, with its node. */
  readonly log: Placement[] = []
  private opened = 0

  constructor(
    readonly count: number,
    readonly start: number,
    private readonly addressOf: (node: number, kind: TransportKind) => string | undefined = () => undefined,
  ) {
    if (!Number.isInteger(count) || count < 1) throw new RangeError(`a cluster has at least one node, not ${count}`)
  }

  /** The 0-based node for the case's next connection, `conn`. */
  next(conn: string): number {
    const node = (this.start + this.opened++) % this.count
    this.log.push({ conn, node: node + 1 })
    return node
  }

  /** "node 2/3 (tcp://127.0.0.1:7002)", for the transcript. */
  describe(node: number, kind: TransportKind): string {
    const address = this.addressOf(node, kind)
    return `node ${node + 1}/${this.count}${address ? ` (${address})` : ''}`
  }
}
