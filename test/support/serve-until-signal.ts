// The tail of the test-only server entries (test/crash/faulty-serve.ts,
// test/cluster/faulty-node.ts): announce like `imwire serve` does, then shut
// down gracefully on SIGTERM/SIGINT.
import type { RunningServer } from '../../src/server/server.js'

export function serveUntilSignal(server: RunningServer): void {
  process.stdout.write(`${JSON.stringify({ event: 'listening', tcp: server.tcpAddress, ws: server.wsUrl })}\n`)
  const stop = () => {
    server.shutdown().then(
      () => process.exit(0),
      () => process.exit(1),
    )
  }
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
}
