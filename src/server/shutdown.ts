// Graceful shutdown [ERR-6], in four steps: stop accepting, finish in-flight
// commits, Close 3001 to everyone, close the store.
import type { Logger } from 'pino'
import type { Listener } from '../transport/index.js'
import type { SessionDriver } from './session-driver.js'
import type { StoreFanOut } from './store-fan-out.js'
import type { Store } from './store/store.js'

/** How long shutdown waits for connections to close after Close 3001. */
const SHUTDOWN_CLOSE_WAIT_MS = 3000
/** Most rounds of waiting for in-flight store operations. */
const MAX_IDLE_ROUNDS = 100

export interface ShutdownParts {
  listeners: Listener[]
  drivers: Set<SessionDriver>
  store: Store
  fanOut: StoreFanOut
  logger: Logger
  /** Called first: frames from open connections are no longer read. */
  startDraining(): void
}

export async function shutdown(p: ShutdownParts, retryAfterMs: number | undefined): Promise<void> {
  // 1. Stop accepting; frames from open connections are no longer read.
  p.startDraining()
  const closed = Promise.all(p.listeners.map((l) => l.close()))
  p.logger.info({ connections: p.drivers.size }, 'shutting down')
  // 2. Finish in-flight commits and let their acks be queued. A turn of the
  //    event loop after each idle() lets result handlers (and any store op
  //    they start) run.
  //    Bounded: a session that keeps chaining reads must not hold shutdown.
  for (let i = 0; i < MAX_IDLE_ROUNDS && (i === 0 || p.fanOut.inflightOps > 0); i++) {
    await p.store.idle()
    await new Promise((r) => setImmediate(r))
  }
  //    In a cluster, what other nodes committed until now is delivered too.
  await p.store.catchUp?.()
  // 3. Close 3001 to everyone; Connection.close writes queued acks first.
  //    retry_after_ms spreads the reconnects over [1 s, 10 s). [ERR-6] [ERR-14]
  for (const d of [...p.drivers]) {
    d.step({ type: 'shutdown', retryAfterMs: retryAfterMs ?? 1000 + Math.floor(Math.random() * 9000) })
  }
  await Promise.race([closed, new Promise((r) => setTimeout(r, SHUTDOWN_CLOSE_WAIT_MS).unref())])
  for (const d of [...p.drivers]) d.conn.destroy()
  // 4. Close the store.
  await p.store.close()
  p.logger.info('stopped')
}
