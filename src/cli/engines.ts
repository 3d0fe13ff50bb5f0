// Throw-away PostgreSQL and Redis servers for tests, benchmarks, the
// conformance runner's bundled cluster and `imwire engines`: each in a fresh
// temporary directory, on an ephemeral loopback port, stopped (and its
// directory removed) by stop(). Nothing here assumes a running service; the
// binaries come from Debian's `postgresql` and `redis-server` packages.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer } from 'node:net'

export interface Engine {
  /** postgresql://… or redis://… */
  readonly url: string
  readonly port: number
  /** The server's process id (tests kill it to simulate an outage). */
  readonly pid: number
  /** Start it again on the same port and data (after kill or stop({ keepData: true })). */
  restart(): Promise<void>
  /**
   * Crash it, data directory kept: Redis gets SIGKILL; PostgreSQL an
   * immediate shutdown (SIGQUIT: every backend aborts, no checkpoint, crash
   * recovery at the next start), which unlike SIGKILL of the postmaster
   * leaves no orphaned backends holding its shared memory.
   */
  kill(): Promise<void>
  stop(opts?: { keepData?: boolean }): Promise<void>
}

export class EngineMissing extends Error {}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address()
      srv.close(() => resolve(typeof a === 'object' && a !== null ? a.port : 0))
    })
  })
}

/** The directory holding initdb and postgres: PATH, else Debian's newest /usr/lib/postgresql/N/bin. */
export function postgresBin(): string {
  const debian = '/usr/lib/postgresql'
  if (existsSync(debian)) {
    const versions = readdirSync(debian)
      .filter((v) => existsSync(join(debian, v, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a))
    if (versions[0] !== undefined) return join(debian, versions[0], 'bin')
  }
  const which = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' })
  const path = which.stdout.trim()
  if (which.status === 0 && path !== '') return path.slice(0, path.lastIndexOf('/'))
  throw new EngineMissing('PostgreSQL is not installed (Debian: apt-get install postgresql)')
}

export function redisBin(): string {
  const which = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' })
  const path = which.stdout.trim()
  if (which.status === 0 && path !== '') return path
  if (existsSync('/usr/bin/redis-server')) return '/usr/bin/redis-server'
  throw new EngineMissing('Redis is not installed (Debian: apt-get install redis-server)')
}

/** PostgreSQL refuses to run as root: as root, run it as Debian's `postgres` user (else `nobody`). */
function unprivileged(): { uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null
  for (const name of ['postgres', 'nobody']) {
    const r = spawnSync('id', ['-u', name], { encoding: 'utf8' })
    const g = spawnSync('id', ['-g', name], { encoding: 'utf8' })
    if (r.status === 0 && g.status === 0) return { uid: Number(r.stdout.trim()), gid: Number(g.stdout.trim()) }
  }
  throw new EngineMissing('running as root and neither a postgres nor a nobody user exists')
}

/** Spawns `file` and resolves once a line of its output matches `ready`. */
function launch(
  file: string,
  args: string[],
  ready: RegExp,
  opts: { uid?: number; gid?: number; timeoutMs: number; what: string },
): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(opts.uid !== undefined ? { uid: opts.uid, gid: opts.gid } : {}),
    })
    let seen = ''
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${opts.what} did not start in ${opts.timeoutMs} ms:\n${seen.slice(-2000)}`))
    }, opts.timeoutMs)
    const onData = (b: Buffer) => {
      seen += b.toString()
      if (ready.test(seen)) {
        clearTimeout(timer)
        child.stdout?.removeListener('data', onData)
        child.stderr?.removeListener('data', onData)
        // Keep draining so a chatty server never blocks on a full pipe.
        child.stdout?.resume()
        child.stderr?.resume()
        resolve(child)
      }
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
    child.once('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`${opts.what} exited (${code ?? signal}) before it was ready:\n${seen.slice(-2000)}`))
    })
  })
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => child.once('exit', () => resolve()))
}

async function terminate(child: ChildProcess, signal: NodeJS.Signals, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  child.kill(signal)
  const t = setTimeout(() => child.kill('SIGKILL'), graceMs)
  await exited(child)
  clearTimeout(t)
}

const live = new Set<ChildProcess>()
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL')
})

/** An engine process that can be crashed, restarted on its data, and stopped. */
async function engine(e: {
  url: string
  port: number
  dir: string
  start: () => Promise<ChildProcess>
  crash: NodeJS.Signals
  stopSignal: NodeJS.Signals
}): Promise<Engine> {
  let child: ChildProcess
  const start = async () => {
    child = await e.start()
    live.add(child)
  }
  const end = async (signal: NodeJS.Signals) => {
    await terminate(child, signal, 10_000)
    live.delete(child)
  }
  await start()
  return {
    url: e.url,
    port: e.port,
    get pid() {
      return child.pid ?? 0
    },
    restart: start,
    kill: () => end(e.crash),
    async stop(o = {}) {
      await end(e.stopSignal)
      if (!o.keepData) rmSync(e.dir, { recursive: true, force: true })
    },
  }
}

export interface PostgresOptions {
  /** fsync and synchronous_commit on (default true; the durability claims need them). */
  durable?: boolean
  /** Extra `-c name=value` settings. */
  settings?: Record<string, string>
  startTimeoutMs?: number
}

export async function startPostgres(opts: PostgresOptions = {}): Promise<Engine> {
  const bin = postgresBin()
  const owner = unprivileged()
  const dir = mkdtempSync(join(tmpdir(), 'imwire-pg-'))
  if (owner !== null) chownSync(dir, owner.uid, owner.gid)
  const data = join(dir, 'data')
  const ids = owner === null ? {} : { uid: owner.uid, gid: owner.gid }
  const init = spawnSync(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-N', '-E', 'UTF8'], {
    encoding: 'utf8',
    ...ids,
  })
  if (init.status !== 0) {
    rmSync(dir, { recursive: true, force: true })
    throw new Error(`initdb failed: ${init.stderr}`)
  }
  const port = await freePort()
  const durable = opts.durable ?? true
  const settings: Record<string, string> = {
    listen_addresses: '127.0.0.1',
    unix_socket_directories: dir,
    max_connections: '200',
    fsync: durable ? 'on' : 'off',
    synchronous_commit: durable ? 'on' : 'off',
    full_page_writes: durable ? 'on' : 'off',
    shared_buffers: '64MB',
    ...opts.settings,
  }
  const args = ['-D', data, '-p', String(port), ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])]
  return engine({
    url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
    port,
    dir,
    start: () =>
      launch(join(bin, 'postgres'), args, /ready to accept connections/, {
        ...ids,
        timeoutMs: opts.startTimeoutMs ?? 30_000,
        what: 'postgres',
      }),
    crash: 'SIGQUIT', // immediate shutdown: crash recovery at the next start
    stopSignal: 'SIGINT', // fast shutdown
  })
}

export async function startRedis(opts: { startTimeoutMs?: number } = {}): Promise<Engine> {
  const bin = redisBin()
  const dir = mkdtempSync(join(tmpdir(), 'imwire-redis-'))
  const port = await freePort()
  // Routing state only: nothing persisted, so a restart starts empty (the
  // cluster design assumes exactly that).
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir]
  return engine({
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    start: () =>
      launch(bin, args, /Ready to accept connections/, {
        timeoutMs: opts.startTimeoutMs ?? 15_000,
        what: 'redis-server',
      }),
    crash: 'SIGKILL',
    stopSignal: 'SIGTERM',
  })
}
