// Phase 3 of startServer: each connection the listeners accept (or a test
// hands over) is admitted [SEC-2] or refused, gets a session id unique per
// connection and per server run [HS-10], and is run by a SessionDriver. The
// live drivers are kept for shutdown.
import { randomBytes } from 'node:crypto'
import type { Logger } from 'pino'
import { CloseCode } from '../gen/es/imwire/v1/control_pb.js'
import type { SessionConfig } from '../session/session.js'
import type { Connection } from '../transport/index.js'
import { type Admission, sourceAddress } from './admission.js'
import type { Hub } from './hub.js'
import { type DriverContext, SessionDriver } from './session-driver.js'
import type { StoreFanOut } from './store-fan-out.js'
import { TimerWheel } from './timer-wheel.js'

export interface ConnectionsOptions {
  config: SessionConfig
  admission: Admission
  hub: Hub<SessionDriver>
  fanOut: StoreFanOut
  now(): number
  maxOutputBytes: number
  logger: Logger
}

export class Connections {
  readonly drivers = new Set<SessionDriver>()
  private draining = false
  private readonly ctx: DriverContext
  private readonly sessionPrefix = randomBytes(4).toString('hex')
  private sessionCounter = 0

  constructor(private readonly o: ConnectionsOptions) {
    const { admission, config } = o
    const self = this
    this.ctx = {
      hub: o.hub,
      runStore: (op) => o.fanOut.run(op),
      get draining() {
        return self.draining
      },
      now: o.now,
      timers: new TimerWheel(o.now),
      maxOutputBytes: o.maxOutputBytes,
      maxBatchBytes: config.limits.maxBatchBytes,
      maxBatchFrames: config.limits.maxBatchFrames,
      logger: o.logger,
      // The driver reports the end of the handshake before the close. [SEC-2]
      onClosed: (d) => {
        this.drivers.delete(d)
        admission.release(sourceAddress(d.conn.remoteAddress))
      },
      onHandshakeDone: (d) => admission.handshakeDone(sourceAddress(d.conn.remoteAddress)),
    }
  }

  /** From now on new connections get 3001 and frames on open ones are ignored. */
  startDraining(): void {
    this.draining = true
  }

  readonly accept = (conn: Connection): void => {
    if (this.draining) {
      conn.close(CloseCode.GOING_AWAY, 'server shutting down', 1000)
      return
    }
    const address = sourceAddress(conn.remoteAddress)
    const refused = this.o.admission.admit(address)
    if (refused !== null) {
      this.o.logger.debug({ remote: conn.remoteAddress, reason: refused.reason }, 'connection refused')
      conn.close(CloseCode.TRY_AGAIN_LATER, refused.reason, refused.retryAfterMs) // [SEC-2] [ERR-14]
      return
    }
    // Unique per connection and per server run. [HS-10]
    const sessionId = `${this.sessionPrefix}-${(++this.sessionCounter).toString(36)}`
    const driver = new SessionDriver(conn, this.o.config, sessionId, this.ctx)
    this.drivers.add(driver)
    this.o.logger.debug({ session: sessionId, remote: conn.remoteAddress, transport: conn.kind }, 'connection accepted')
  }
}
