// Where the server under test is and, when the runner started it, how to
// restart it. Three modes: fixed addresses (--target), a command that prints
// its listening line (--spawn), or the bundled reference server.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, createWriteStream, type WriteStream } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { openTcp } from '../drivers/tcp-transport.js'
import { type OpenOptions, TargetUnreachable, type Transport, type TransportKind } from '../drivers/transport.js'
import { openWs } from '../drivers/ws-transport.js'
import { UsageError } from '../../src/cli/usage-error.js'

export interface Addresses {
  tcp?: { host: string; port: number }
  ws?: string
}

export interface TargetInfo {
  mode: 'address' | 'spawn' | 'bundled' | 'client'
  command?: string
  /** The first node's addresses (the only node's, without a cluster). */
  addresses: { tcp?: string; ws?: string }
  /** A cluster target: every node's addresses, in node order (node 1 first). Absent: one server. */
  nodes?: Array<{ tcp?: string; ws?: string }>
}

/** How a restart went, for the step that asked for it. */
export interface RestartOutcome {
  /**
   * A graceful restart whose process was still running when the grace period
   * after SIGTERM ran out, and had to be killed: it did not shut down [ERR-6].
   */
  lingeredMs?: number
}

export interface ServerCrash {
  /** ms since the run started */
  at: number
  /** The cluster node (1..N) whose process died; absent for a single server. */
  node?: number
  detail: string
  stderrTail: string
}

export interface Target {
  info(): TargetInfo
  addresses(): Addresses
  /** `node` (0-based) picks a cluster node; a single server ignores it. */
  open(kind: TransportKind, timeoutMs: number, options?: OpenOptions, node?: number): Promise<Transport>
  readonly canRestart: boolean
  restart(mode: 'kill' | 'graceful'): Promise<RestartOutcome>
  /** Unexpected exits of a spawned server (it is started again each time). */
  readonly crashes: ServerCrash[]
  /**
   * Whether the server process died after `mark` crashes had been recorded,
   * waiting up to `waitMs` for its exit to be noticed; resolves once the new
   * process listens. Always false for a server the runner did not start.
   */
  diedSince(mark: number, waitMs: number): Promise<boolean>
  stop(): Promise<void>
}

// One usage-error type for every imwire CLI (src/cli/usage-error.ts); the
// runner's modules import it from here.
export { UsageError }

export function parseTarget(url: string): Addresses {
  const tcp = /^tcp:\/\/(\[[^\]]+\]|[^:/]+):(\d+)\/?$/.exec(url)
  if (tcp) return { tcp: { host: (tcp[1] as string).replace(/^\[|\]$/g, ''), port: Number(tcp[2]) } }
  if (/^wss?:\/\/[^/]+/.test(url)) return { ws: url }
  throw new UsageError(`--target ${url}: expected tcp://HOST:PORT or ws://HOST:PORT/PATH`)
}

function openOn(a: Addresses, kind: TransportKind, timeoutMs: number, options?: OpenOptions): Promise<Transport> {
  if (kind === 'tcp') {
    if (!a.tcp) throw new UsageError('no TCP address for this target')
    return openTcp(a.tcp.host, a.tcp.port, timeoutMs)
  }
  if (!a.ws) throw new UsageError('no WebSocket address for this target')
  return openWs(a.ws, timeoutMs, options)
}

function describeAddresses(a: Addresses): { tcp?: string; ws?: string } {
  return { ...(a.tcp ? { tcp: `tcp://${a.tcp.host}:${a.tcp.port}` } : {}), ...(a.ws ? { ws: a.ws } : {}) }
}

export class FixedTarget implements Target {
  readonly canRestart = false
  readonly crashes: ServerCrash[] = []
  constructor(private readonly a: Addresses) {}
  info(): TargetInfo {
    return { mode: 'address', addresses: describeAddresses(this.a) }
  }
  addresses(): Addresses {
    return this.a
  }
  open(kind: TransportKind, timeoutMs: number, options?: OpenOptions): Promise<Transport> {
    return openOn(this.a, kind, timeoutMs, options)
  }
  async restart(): Promise<RestartOutcome> {
    throw new UsageError('cannot restart a server the runner did not start')
  }
  async diedSince(): Promise<boolean> {
    return false
  }
  async stop(): Promise<void> {}
}

export interface SpawnOptions {
  /** Shell command (--spawn) with placeholders, or argv (bundled server, no shell). */
  command: string | string[]
  mode: 'spawn' | 'bundled'
  secret: string
  startTimeoutMs: number
  /** How long a graceful restart waits for the process to exit after SIGTERM (default 10 s). */
  termGraceMs?: number
  /** Append the server's stderr (and stdout after the listening line) here. */
  logFile?: string
  runStarted: number
  /** A cluster node: the value of the {node} placeholder (1..N), named in its crashes and log lines. */
  node?: number
}

/** Picks a free loopback port by binding port 0 (for {tcp_port}/{ws_port}). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0))
    })
  })
}

/** How long a graceful restart waits for the process to exit after SIGTERM. */
export const TERM_GRACE_MS = 10_000

/** Unexpected exits after which the runner stops starting the server again. */
const MAX_RESPAWNS = 5
/** How long a refused connect waits for news of a crash before it counts as a failure. */
const RESPAWN_NOTICE_MS = 1000

export class SpawnedTarget implements Target {
  readonly canRestart = true
  readonly crashes: ServerCrash[] = []
  private child: ChildProcess | null = null
  private a: Addresses = {}
  private stderrTail: string[] = []
  private expectingExit = false
  private log: WriteStream | null = null
  private restarting: Promise<void> | null = null
  private readonly dataDir: string
  private readonly argv: { file: string; args: string[]; shell: boolean }
  private stopped = false
  private halting: Promise<void> | null = null

  private constructor(
    private readonly opts: SpawnOptions,
    resolved: string | string[],
    dataDir: string,
  ) {
    this.dataDir = dataDir
    this.argv =
      typeof resolved === 'string'
        ? { file: resolved, args: [], shell: true }
        : { file: resolved[0] as string, args: resolved.slice(1), shell: false }
    if (opts.logFile) this.log = createWriteStream(opts.logFile, { flags: 'a' })
  }

  static async start(opts: SpawnOptions): Promise<SpawnedTarget> {
    const dataDir = mkdtempSync(join(tmpdir(), 'imwire-conformance-'))
    const subst = async (s: string) => {
      let out = s
        .replaceAll('{datadir}', dataDir)
        .replaceAll('{secret}', opts.secret)
        .replaceAll('{node}', String(opts.node ?? 1))
      if (out.includes('{tcp_port}') || out.includes('{port}')) {
        const p = String(await freePort())
        out = out.replaceAll('{tcp_port}', p).replaceAll('{port}', p)
      }
      if (out.includes('{ws_port}')) out = out.replaceAll('{ws_port}', String(await freePort()))
      return out
    }
    const resolved =
      typeof opts.command === 'string' ? await subst(opts.command) : await Promise.all(opts.command.map(subst))
    const t = new SpawnedTarget(opts, resolved, dataDir)
    // Registered before the process exists: an interrupt during startup stops it too.
    live.add(t)
    try {
      await t.launch()
    } catch (err) {
      await t.halt()
      throw err
    }
    return t
  }

  info(): TargetInfo {
    const command = typeof this.opts.command === 'string' ? this.opts.command : this.opts.command.join(' ')
    return { mode: this.opts.mode, command, addresses: describeAddresses(this.a) }
  }

  addresses(): Addresses {
    return this.a
  }

  async open(kind: TransportKind, timeoutMs: number, options?: OpenOptions): Promise<Transport> {
    if (this.restarting) await this.restarting
    try {
      return await openOn(this.a, kind, timeoutMs, options)
    } catch (err) {
      // Refused because the server just died and its exit is not processed
      // yet: wait briefly for the respawn and try once more.
      if (!(err instanceof TargetUnreachable) || this.stopped) throw err
      for (let waited = 0; waited < RESPAWN_NOTICE_MS && !this.restarting; waited += 25)
        await new Promise((r) => setTimeout(r, 25))
      if (!this.restarting) throw err
      await this.restarting
      return openOn(this.a, kind, timeoutMs, options)
    }
  }

  async diedSince(mark: number, waitMs: number): Promise<boolean> {
    // A dying process can still accept a connection on its listening socket
    // and reset it an instant later, before its exit reaches us: poll briefly.
    for (let waited = 0; this.crashes.length <= mark && !this.stopped && waited < waitMs; waited += 25)
      await new Promise((r) => setTimeout(r, 25))
    if (this.crashes.length <= mark) return false
    if (this.restarting) await this.restarting.catch(() => {})
    return true
  }

  private launch(): Promise<void> {
    // A restart that was waiting when the runner was interrupted starts nothing.
    if (this.stopped) return Promise.reject(new Error('the runner stopped the server'))
    return new Promise((resolve, reject) => {
      const child = spawn(this.argv.file, this.argv.args, {
        shell: this.argv.shell,
        stdio: ['ignore', 'pipe', 'pipe'],
        // own process group, so a shell's children are stopped with it
        detached: true,
      })
      this.child = child
      let listening = false
      const timer = setTimeout(() => {
        if (listening) return
        this.kill('SIGKILL')
        reject(
          new Error(`server did not print its listening line within ${this.opts.startTimeoutMs} ms\n${this.tail()}`),
        )
      }, this.opts.startTimeoutMs)
      const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })
      const prefix = this.opts.node !== undefined ? `[node ${this.opts.node}] ` : ''
      lines.on('line', (line) => {
        this.log?.write(`${prefix}[stdout] ${line}\n`)
        if (listening) return
        const parsed = parseListening(line)
        if (!parsed) return
        listening = true
        clearTimeout(timer)
        this.a = parsed
        resolve()
      })
      child.stderr?.on('data', (d: Buffer) => {
        this.log?.write(prefix === '' ? d : d.toString('utf8').replace(/^(?=.)/gm, prefix))
        this.stderrTail.push(
          ...d
            .toString('utf8')
            .split('\n')
            .filter((l) => l !== ''),
        )
        if (this.stderrTail.length > 50) this.stderrTail.splice(0, this.stderrTail.length - 50)
      })
      child.once('error', (err) => {
        clearTimeout(timer)
        if (!listening) reject(new Error(`cannot start server: ${err.message}`))
      })
      child.once('exit', (code, signal) => {
        clearTimeout(timer)
        if (!listening) {
          reject(new Error(`server exited (${signal ?? code}) before printing its listening line\n${this.tail()}`))
          return
        }
        if (this.expectingExit || this.stopped) return
        // [ERR-5] a crash is evidence; start it again so the remaining cases run
        // (a few times only: a server that dies at once must not loop forever).
        this.crashes.push({
          at: Math.round(performance.now() - this.opts.runStarted),
          ...(this.opts.node !== undefined ? { node: this.opts.node } : {}),
          detail: `exited with ${signal ?? `code ${code}`}`,
          stderrTail: this.tail(),
        })
        if (this.crashes.length > MAX_RESPAWNS) return
        this.restarting = this.launch().finally(() => {
          this.restarting = null
        })
        this.restarting.catch(() => {})
      })
    })
  }

  private tail(): string {
    return this.stderrTail.slice(-20).join('\n')
  }

  /** Signals the server's process group; `group` also once the direct child has exited (a shell's children may remain). */
  private kill(sig: NodeJS.Signals, group = false): void {
    const pid = this.child?.pid
    if (pid === undefined) return
    if (!group && (this.child?.exitCode !== null || this.child?.signalCode !== null)) return
    try {
      process.kill(-pid, sig)
    } catch {
      this.child?.kill(sig)
    }
  }

  private waitExit(ms: number): Promise<boolean> {
    const child = this.child
    if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true)
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), ms)
      child.once('exit', () => {
        clearTimeout(t)
        resolve(true)
      })
    })
  }

  async restart(mode: 'kill' | 'graceful'): Promise<RestartOutcome> {
    const outcome = await this.shutDown(mode)
    await this.startAgain()
    return outcome
  }

  /**
   * The first half of a restart: stops the process (SIGKILL for `kill`;
   * SIGTERM and the grace period for `graceful`) without recording a crash.
   * A cluster stops every node this way before it starts any again.
   */
  async shutDown(mode: 'kill' | 'graceful'): Promise<RestartOutcome> {
    if (this.restarting) await this.restarting
    this.expectingExit = true
    const outcome: RestartOutcome = {}
    try {
      this.kill(mode === 'kill' ? 'SIGKILL' : 'SIGTERM')
      // The whole process group: under a shell, the shell may exit at once
      // while the server it started is still shutting down (or never does).
      const grace = this.opts.termGraceMs ?? TERM_GRACE_MS
      if (!(await this.waitGone(grace))) {
        if (mode === 'graceful') outcome.lingeredMs = grace
        this.kill('SIGKILL', true)
        await this.waitGone(5_000)
      }
    } finally {
      this.expectingExit = false
    }
    return outcome
  }

  /** The second half of a restart: the same command again; resolves once it listens. */
  startAgain(): Promise<void> {
    return this.launch()
  }

  async stop(): Promise<void> {
    if (this.halting) return this.halting
    // An exit that has already happened may not have been reported yet: give
    // it a moment, so a crash in the last case is still recorded.
    await new Promise((r) => setTimeout(r, 200))
    return this.halt()
  }

  /**
   * Stops the server's whole process group now: SIGTERM, then SIGKILL if it
   * has not gone after a grace period, and waits for it. Idempotent; stop()
   * and an interrupt (stopSpawnedServers) share it.
   */
  halt(): Promise<void> {
    this.halting ??= (async () => {
      this.stopped = true
      this.kill('SIGTERM')
      if (!(await this.waitGone(5_000))) {
        this.kill('SIGKILL', true)
        await this.waitGone(2_000)
      }
      this.log?.end()
      rmSync(this.dataDir, { recursive: true, force: true })
      live.delete(this)
    })()
    return this.halting
  }

  /** Waits for the child's exit, then for the rest of its process group (a shell's children). */
  private async waitGone(ms: number): Promise<boolean> {
    const deadline = performance.now() + ms
    if (!(await this.waitExit(ms))) return false
    const pid = this.child?.pid
    if (pid === undefined) return true
    for (;;) {
      try {
        process.kill(-pid, 0)
      } catch {
        return true // no process is left in the group
      }
      if (performance.now() > deadline) return false
      await new Promise((r) => setTimeout(r, 25))
    }
  }
}

/** Servers the runner started and has not stopped yet. */
const live = new Set<SpawnedTarget>()

/**
 * Other things the runner started that an interrupt must stop, after the
 * servers (a bundled cluster's PostgreSQL and Redis). Returns the function
 * that removes the entry once it was stopped normally.
 */
const liveExtras = new Set<() => Promise<void>>()
export function stopOnInterrupt(halt: () => Promise<void>): () => void {
  liveExtras.add(halt)
  return () => liveExtras.delete(halt)
}

/**
 * Stops every server the runner started (the CLI calls it on SIGINT and
 * SIGTERM). Each runs in its own process group, so the terminal's Ctrl-C
 * never reaches it: without this an interrupted run would leave it running.
 */
export async function stopSpawnedServers(): Promise<number> {
  const targets = [...live]
  await Promise.all(targets.map((t) => t.halt()))
  const extras = [...liveExtras]
  liveExtras.clear()
  await Promise.all(extras.map((halt) => halt().catch(() => {})))
  return targets.length
}

/** `{"event":"listening","tcp":"HOST:PORT","ws":"ws://HOST:PORT/PATH"}` */
export function parseListening(line: string): Addresses | null {
  let j: unknown
  try {
    j = JSON.parse(line)
  } catch {
    return null
  }
  if (j === null || typeof j !== 'object' || (j as { event?: unknown }).event !== 'listening') return null
  const o = j as { tcp?: unknown; ws?: unknown }
  const a: Addresses = {}
  if (typeof o.tcp === 'string') {
    const m = /^(?:tcp:\/\/)?(\[[^\]]+\]|[^:]+):(\d+)$/.exec(o.tcp)
    if (m) a.tcp = { host: (m[1] as string).replace(/^\[|\]$/g, ''), port: Number(m[2]) }
  }
  if (typeof o.ws === 'string') a.ws = o.ws
  return a.tcp || a.ws ? a : null
}
