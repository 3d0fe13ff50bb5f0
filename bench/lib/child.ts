// Servers under test run as child processes: the load generator and the
// server each get a core, and the server's memory is its own process's.
import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'

export interface ServerChild {
  proc: ChildProcess
  /** "host:port" of the TCP listener, if any. */
  tcp: string | null
  /** ws:// URL of the WebSocket listener, if any. */
  ws: string | null
  /** Everything the child printed (stdout and stderr), for diagnostics. */
  output: string[]
  /** Resident set size of the child, in bytes (Linux /proc). */
  rss(): number
  /** SIGTERM, then SIGKILL after a grace period; resolves when it exited. */
  stop(graceMs?: number): Promise<void>
  /** SIGKILL now; resolves when it exited. */
  kill(): Promise<void>
  exited: Promise<number | null>
}

/**
 * The server announces itself with one JSON line on stdout:
 * {"event":"listening","tcp":"127.0.0.1:40123","ws":"ws://127.0.0.1:40124/imwire"}
 * (the aedes broker child prints the same). Resolves once every wanted
 * listener was announced.
 */
export function spawnServer(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; want: Array<'tcp' | 'ws'>; timeoutMs?: number; cwd?: string },
): Promise<ServerChild> {
  const proc = spawn(cmd, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const output: string[] = []
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)))
  const child: ServerChild = {
    proc,
    tcp: null,
    ws: null,
    output,
    exited,
    rss: () => readRss(proc.pid as number),
    stop: async (graceMs = 3000) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return
      proc.kill('SIGTERM')
      const t = setTimeout(() => proc.kill('SIGKILL'), graceMs)
      await exited
      clearTimeout(t)
    },
    kill: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return
      proc.kill('SIGKILL')
      await exited
    },
  }
  const errLines = createInterface({ input: proc.stderr as NodeJS.ReadableStream })
  errLines.on('line', (l) => output.push(l))
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL')
      reject(new Error(`server did not announce ${opts.want.join('+')} in time:\n${output.join('\n')}`))
    }, opts.timeoutMs ?? 20_000)
    const done = () => {
      if (opts.want.every((w) => child[w] !== null)) {
        clearTimeout(timer)
        resolve(child)
      }
    }
    const lines = createInterface({ input: proc.stdout as NodeJS.ReadableStream })
    lines.on('line', (l) => {
      output.push(l)
      parseListening(l, child)
      done()
    })
    void exited.then((code) => {
      clearTimeout(timer)
      reject(new Error(`server exited (${code}) before listening:\n${output.join('\n')}`))
    })
  })
}

/** Fill child.tcp / child.ws from one output line, if it is the listening line. */
export function parseListening(line: string, into: { tcp: string | null; ws: string | null }): void {
  if (!line.startsWith('{')) return
  let ev: { event?: unknown; tcp?: unknown; ws?: unknown }
  try {
    ev = JSON.parse(line) as typeof ev
  } catch {
    return
  }
  if (ev.event !== 'listening') return
  if (typeof ev.tcp === 'string') into.tcp = ev.tcp
  if (typeof ev.ws === 'string') into.ws = ev.ws
}

/** VmRSS of a process in bytes. */
export function readRss(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(status)
  return m === null ? Number.NaN : Number(m[1]) * 1024
}

export function splitHostPort(addr: string): { host: string; port: number } {
  const i = addr.lastIndexOf(':')
  return { host: addr.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(addr.slice(i + 1)) }
}
