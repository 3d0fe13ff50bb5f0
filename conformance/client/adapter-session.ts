// The kit's end of the client driver protocol: starts the client's adapter
// (a shell command with a {statedir} placeholder, or an in-process function for
// the kit's own tests), sends Commands, collects Events, stops it.
import { type ChildProcess, spawn } from 'node:child_process'
import { PassThrough } from 'node:stream'
import { create, type MessageInitShape } from '@bufbuild/protobuf'
import { CommandSchema, type Event, EventSchema } from '../../src/gen/es/imwire/conformance/v1/driver_pb.js'
import { decodeDelimited, encodeDelimited } from './driver-io.js'

/** A running adapter, whatever runs it. */
export interface AdapterTransport {
  write(bytes: Uint8Array): void
  output: AsyncIterable<Uint8Array>
  /** Resolves with the exit status (null when killed by a signal). */
  exited: Promise<number | null>
  kill(): void
}

/** Starts one adapter process on a state directory; `stderr` receives what it writes there. */
export type Launcher = (stateDir: string, stderr: (text: string) => void) => AdapterTransport

/** POSIX shell quoting for the state directory placed into the command. */
function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`
}

/** `--client "CMD"`: run CMD through sh, {statedir} replaced; stderr kept for the transcript. */
export function commandLauncher(cmd: string): Launcher {
  return (stateDir, stderr) => {
    // Own process group: a kill reaches the adapter even behind a shell or npx.
    const child: ChildProcess = spawn('sh', ['-c', cmd.replaceAll('{statedir}', shellQuote(stateDir))], {
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    })
    child.stderr?.on('data', (d: Buffer) => stderr(d.toString()))
    child.stdin?.on('error', () => {})
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    return {
      write: (b) => {
        if (child.stdin?.writable) child.stdin.write(b)
      },
      output: child.stdout as AsyncIterable<Uint8Array>,
      exited,
      kill: () => {
        try {
          if (child.pid !== undefined && child.exitCode === null) process.kill(-child.pid, 'SIGKILL')
        } catch {
          // already gone
        }
      },
    }
  }
}

/** An adapter function run in this process: the kit's own tests compose broken clients this way. */
export function inProcessLauncher(
  run: (io: { input: AsyncIterable<Uint8Array>; write(b: Uint8Array): void }, stateDir: string) => Promise<void>,
): Launcher {
  return (stateDir) => {
    const toAdapter = new PassThrough()
    const fromAdapter = new PassThrough()
    const exited = run({ input: toAdapter, write: (b) => fromAdapter.write(b) }, stateDir).then(
      () => 0,
      () => 1,
    )
    void exited.then(() => fromAdapter.end())
    return {
      write: (b) => toAdapter.write(b),
      output: fromAdapter,
      exited,
      kill: () => toAdapter.end(),
    }
  }
}

type CommandBody = MessageInitShape<typeof CommandSchema>['command']

export class AdapterError extends Error {}

/** One adapter process: commands out, events in. */
export class AdapterSession {
  readonly events: Array<{ event: Event; at: number }> = []
  private nextId = 1n
  private wake: Array<() => void> = []
  private ended = false

  constructor(
    private readonly transport: AdapterTransport,
    private readonly now: () => number,
    private readonly log: (line: string) => void,
  ) {
    void (async () => {
      try {
        for await (const ev of decodeDelimited(EventSchema, transport.output)) {
          this.events.push({ event: ev, at: this.now() })
          if (ev.event.case !== 'report') this.log(`← ${ev.event.case}${ev.commandId ? ` (#${ev.commandId})` : ''}`)
          this.notify()
        }
      } catch (err) {
        this.log(`adapter output is not size-delimited Events: ${(err as Error).message}`)
      }
      this.ended = true
      this.notify()
    })()
  }

  private notify(): void {
    const ws = this.wake
    this.wake = []
    for (const w of ws) w()
  }

  /** The first event from index `from` on that `pred` accepts, or null at the deadline or end of output. */
  async waitEvent(pred: (e: Event) => boolean, timeoutMs: number, from = 0): Promise<Event | null> {
    const deadline = this.now() + timeoutMs
    for (;;) {
      const hit = this.events.slice(from).find((e) => pred(e.event))
      if (hit !== undefined) return hit.event
      const left = deadline - this.now()
      if (left <= 0 || this.ended) return null
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left)
        this.wake.push(() => {
          clearTimeout(t)
          resolve()
        })
      })
    }
  }

  /** Waits for the adapter's Started event. */
  async started(timeoutMs: number): Promise<void> {
    if ((await this.waitEvent((e) => e.event.case === 'started', timeoutMs)) === null)
      throw new AdapterError(`the adapter sent no Started event within ${timeoutMs} ms`)
  }

  /** Sends a command and resolves with its answer; AdapterError when none comes in time. */
  async command(body: CommandBody, timeoutMs: number): Promise<Event> {
    const id = this.nextId++
    this.log(`→ ${body?.case} (#${id})`)
    this.transport.write(encodeDelimited(CommandSchema, create(CommandSchema, { id, command: body })))
    const ev = await this.waitEvent((e) => e.commandId === id, timeoutMs)
    if (ev === null) throw new AdapterError(`no answer to ${body?.case} within ${timeoutMs} ms`)
    return ev
  }

  /**
   * Sends many commands at once and resolves with their answers in the same
   * order; AdapterError when they are not all answered in time. Scans each
   * event once, so thousands of commands cost no more than thousands of events.
   */
  async commands(bodies: CommandBody[], timeoutMs: number): Promise<Event[]> {
    const from = this.events.length
    const first = this.nextId
    this.log(`→ ${bodies.length} × ${bodies[0]?.case} (#${first}-#${first + BigInt(bodies.length) - 1n})`)
    for (const body of bodies)
      this.transport.write(encodeDelimited(CommandSchema, create(CommandSchema, { id: this.nextId++, command: body })))
    const answers = new Map<bigint, Event>()
    let scanned = from
    const deadline = this.now() + timeoutMs
    while (answers.size < bodies.length) {
      for (; scanned < this.events.length; scanned++) {
        const ev = (this.events[scanned] as { event: Event }).event
        if (ev.commandId >= first && ev.commandId < this.nextId) answers.set(ev.commandId, ev)
      }
      if (answers.size === bodies.length) break
      const left = deadline - this.now()
      if (left <= 0 || this.ended)
        throw new AdapterError(
          `${bodies.length - answers.size} of ${bodies.length} commands unanswered after ${timeoutMs} ms`,
        )
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left)
        this.wake.push(() => {
          clearTimeout(t)
          resolve()
        })
      })
    }
    return bodies.map((_, i) => answers.get(first + BigInt(i)) as Event)
  }

  /** Stop politely; kill when the adapter does not exit in time. Resolves with its exit status. */
  async stop(timeoutMs: number): Promise<number | null> {
    if (!this.ended) {
      try {
        await this.command({ case: 'stop', value: {} }, timeoutMs)
      } catch {
        // no answer: the kill below ends it
      }
    }
    const exit = await Promise.race([
      this.transport.exited,
      new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs).unref()),
    ])
    if (exit === 'timeout') {
      this.log('adapter did not exit after Stop: killed')
      this.transport.kill()
      // An in-process adapter stuck on a promise never exits: do not wait for it forever.
      return Promise.race([
        this.transport.exited,
        new Promise<null>((r) => setTimeout(() => r(null), timeoutMs).unref()),
      ])
    }
    return exit
  }

  kill(): void {
    this.transport.kill()
  }
}
