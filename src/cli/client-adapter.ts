// `imwire client-adapter --state DIR`: the reference client's adapter. It
// speaks the client driver protocol (conformance/client-driver.md) and drives
// src/client; it lives with the CLI because the kit itself never imports a
// client (it judges them). It is also the worked
// example for SDK authors: everything below is what any client's adapter does —
// map each Command to the SDK's call, report the SDK's callbacks as Events.
//
// Hooks let tests compose a broken client from this one (a wrapped
// connection, changed options), so the kit's own self-test needs no second
// client implementation.
import { create, type MessageInitShape } from '@bufbuild/protobuf'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import {
  type Command,
  CommandSchema,
  type Event,
  EventSchema,
  AckPolicy,
} from '../gen/es/imwire/conformance/v1/driver_pb.js'
import { ConversationKind } from '../gen/es/imwire/v1/conversation_pb.js'
import {
  type ClientStore,
  ImwireClient,
  type ImwireClientOptions,
  JsonFileClientStore,
  type StoredEntry,
  type StoreOp,
} from '../client/index.js'
import { type Connection, connectTcp, connectWs } from '../transport/index.js'
import { decodeDelimited, encodeDelimited } from '../../conformance/client/driver-io.js'

export interface AdapterIo {
  input: AsyncIterable<Uint8Array>
  write(bytes: Uint8Array): void
}

/** The event oneof, as an init shape. */
type EventBody = MessageInitShape<typeof EventSchema>['event']

/** Fault injection by composition, for the kit's self-test. */
export interface AdapterHooks {
  /** Change the client's options. */
  options?(o: ImwireClientOptions): ImwireClientOptions
  /** Wrap each connection the client opens. */
  connection?(c: Connection): Connection
  /** Wrap the client's store (e.g. replace it by one kept only in memory). */
  store?(s: ClientStore): ClientStore
  /** The client stopped for good after this close code; true = start it again (a broken client). */
  restartAfterTerminal?(code: number): boolean
}

/** Mirrors the outbox as it is written, so a Report and SendQueued need nothing private of the client. */
class WatchedStore implements ClientStore {
  readonly entries = new Map<string, StoredEntry>()
  /** Sends waiting for their outbox entry, oldest first: the outbox writes new entries in send order. */
  readonly awaitingPut: Array<(e: StoredEntry) => void> = []
  private maxOrder = 0
  constructor(private readonly inner: ClientStore) {}
  async load() {
    const s = await this.inner.load()
    for (const e of s.entries) {
      this.entries.set(e.id, e)
      this.maxOrder = Math.max(this.maxOrder, e.order)
    }
    return s
  }
  private writing = new Set<Promise<void>>()
  /** Resolves once every write begun so far has landed: a Report describes what is stored. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.writing])
  }
  async write(ops: StoreOp[]): Promise<void> {
    const w = this.inner.write(ops)
    this.writing.add(w)
    try {
      await w
    } finally {
      this.writing.delete(w)
    }
    for (const o of ops) {
      if (o.op === 'put') {
        // A renumbered entry is written again ([ORD-9]) with its old order:
        // only a new entry (a higher order) answers a send.
        const added = o.entry.order > this.maxOrder
        if (added) this.maxOrder = o.entry.order
        this.entries.set(o.entry.id, o.entry)
        if (added) this.awaitingPut.shift()?.(o.entry)
      } else if (o.op === 'delete') this.entries.delete(o.id)
    }
  }
  close() {
    return this.inner.close()
  }
}

/** Runs until Stop (or the end of input); resolves when the process may exit. */
export async function runAdapter(io: AdapterIo, stateDir: string, hooks: AdapterHooks = {}): Promise<void> {
  const emit = (commandId: bigint, event: EventBody) =>
    io.write(encodeDelimited(EventSchema, create(EventSchema, { commandId, event })))
  const store = new WatchedStore((hooks.store ?? ((s) => s))(new JsonFileClientStore(join(stateDir, 'client.jsonl'))))
  const received = new Map<string, bigint[]>()
  const results: Event[] = []
  const closes: number[] = []
  let client: ImwireClient | null = null
  // Read through a function: TypeScript cannot see the event handlers' assignments.
  const current = (): ImwireClient | null => client
  // What a previous process left in the outbox is part of the state from the start (Report before Connect).
  await store.load()
  emit(0n, { case: 'started', value: { clientName: 'imwire-js reference client' } })

  const start = async (c: Extract<Command['command'], { case: 'connect' }>['value']): Promise<void> => {
    const url = new URL(c.url)
    const open = async () => {
      const conn =
        url.protocol === 'tcp:'
          ? await connectTcp(url.hostname.replace(/^\[|\]$/g, ''), Number(url.port), { connectTimeoutMs: 5000 })
          : await connectWs(url.href, { connectTimeoutMs: 5000 })
      return hooks.connection ? hooks.connection(conn) : conn
    }
    const base: ImwireClientOptions = {
      connect: open,
      token: c.token,
      deviceId: c.deviceId,
      store,
      features: c.features,
      heartbeatMs: c.heartbeatMs,
      receiveWindow: c.receiveWindow,
    }
    const cl = await ImwireClient.open(hooks.options ? hooks.options(base) : base)
    client = cl
    cl.on('ready', (w) => emit(0n, { case: 'connected', value: { sessionId: w.sessionId } }))
    cl.on('disconnected', (d) => {
      closes.push(d.code)
      const value = { code: d.code, reconnectInMs: d.reconnectInMs ?? 0, willReconnect: d.reconnectInMs !== null }
      emit(0n, { case: 'disconnected', value })
    })
    cl.on('ack', (r) => {
      const value = {
        clientMsgId: Buffer.from(r.id, 'hex'),
        conversationId: r.conversationId,
        seq: BigInt(r.seq),
        duplicate: r.duplicate,
      }
      const ev = create(EventSchema, { event: { case: 'sendResult', value } })
      results.push(ev)
      emit(0n, { case: 'sendResult', value })
    })
    cl.on('rejected', (entry, err) =>
      emit(0n, {
        case: 'sendRejected',
        value: { clientMsgId: entry.clientMsgId, errorCode: err.errorCode ?? 0, message: err.message },
      }),
    )
    cl.on('message', (m) => {
      received.set(m.conversationId, [...(received.get(m.conversationId) ?? []), BigInt(m.seq)])
      emit(0n, { case: 'message', value: { conversationId: m.conversationId, seq: BigInt(m.seq), body: m.body } })
    })
    cl.on('terminated', (err) => {
      if (client === cl) client = null
      const code = err.closeCode ?? 0
      if (code !== 0 && hooks.restartAfterTerminal?.(code)) void start(c)
    })
    cl.connect().catch(() => {})
  }

  const handle = async (cmd: Command): Promise<EventBody | 'stop'> => {
    const c = cmd.command
    const need = (): ImwireClient => {
      if (client === null) throw new Error('not connected (send connect first)')
      return client
    }
    switch (c.case) {
      case 'connect':
        if (client !== null) throw new Error('already connected')
        await start(c.value)
        return { case: 'done', value: {} }
      case 'send': {
        const cl = need()
        // The client writes the outbox entry before anything goes on the wire; its put is our answer. [SND-5]
        const queued = new Promise<StoredEntry>((resolve) => store.awaitingPut.push(resolve))
        cl.send(c.value.conversationId, c.value.body, { contentType: c.value.contentType }).catch(() => {})
        const e = await queued
        return { case: 'queued', value: { clientMsgId: e.clientMsgId } }
      }
      case 'create': {
        const v = c.value
        const kind = v.group ? ConversationKind.GROUP : ConversationKind.DIRECT
        await need().conversations.create({
          conversationId: v.conversationId,
          kind,
          members: v.memberUserIds,
          title: v.title,
        })
        return { case: 'done', value: {} }
      }
      case 'add':
        await need().conversations.addMembers(c.value.conversationId, c.value.userIds)
        return { case: 'done', value: {} }
      case 'remove':
        await need().conversations.removeMembers(c.value.conversationId, c.value.userIds)
        return { case: 'done', value: {} }
      case 'leave':
        await need().conversations.leave(c.value.conversationId)
        return { case: 'done', value: {} }
      case 'history': {
        const v = c.value
        const page = await need().conversations.history({
          conversationId: v.conversationId,
          anchorSeq: Number(v.anchorSeq),
          ...(v.limit ? { limit: v.limit } : {}),
        })
        return { case: 'history', value: { seqs: page.messages.map((m) => m.seq), hasMore: page.hasMore } }
      }
      case 'ackPolicy':
        // The reference client acknowledges after handing a message over; it has no hold.
        if (c.value.policy === AckPolicy.HOLD)
          return { case: 'failed', value: { unsupported: true, message: 'no hold policy' } }
        return { case: 'done', value: {} }
      case 'disconnect': {
        const cl = current()
        client = null
        await cl?.close()
        return { case: 'done', value: {} }
      }
      case 'report':
        await store.settled()
        return {
          case: 'report',
          value: {
            outbox: [...store.entries.values()]
              .sort((a, b) => a.order - b.order)
              .map((e) => ({ ...e, sendSeq: BigInt(e.sendSeq) })),
            received: [...received].map(([conversationId, seqs]) => ({ conversationId, seqs })),
            results: results
              .map((r) => (r.event.case === 'sendResult' ? r.event.value : undefined))
              .filter((r) => r !== undefined),
            closes,
          },
        }
      case 'stop':
        return 'stop'
      default:
        return { case: 'failed', value: { unsupported: true, message: `unknown command ${String(c.case)}` } }
    }
  }

  const failed = (err: unknown): EventBody => ({
    case: 'failed',
    value: { unsupported: false, message: (err as Error).message },
  })
  // Consecutive sends run concurrently (their outbox writes share a flush to
  // disk); every other command waits for them. Answers keep command order.
  let sends: Promise<void> = Promise.resolve()
  for await (const cmd of decodeDelimited(CommandSchema, io.input)) {
    if (cmd.command.case === 'send') {
      const started = handle(cmd).catch(failed)
      sends = sends.then(async () => emit(cmd.id, (await started) as EventBody))
      continue
    }
    await sends
    let answer: EventBody | 'stop'
    try {
      answer = await handle(cmd)
    } catch (err) {
      answer = failed(err)
    }
    if (answer === 'stop') {
      const cl = current()
      client = null
      await cl?.close()
      if (cl === null) await store.close()
      emit(cmd.id, { case: 'done', value: {} })
      return
    }
    emit(cmd.id, answer)
  }
  // Input ended without Stop (the kit went away): close like Stop, without an answer.
  await current()?.close()
}

const USAGE =
  'usage: imwire client-adapter --state DIR\n  the reference client driven over stdin/stdout by `imwire conformance client`\n'

/** The command: runs until Stop, then exits 0 (timers of a closed client must not keep the process alive). */
export async function main(argv: string[]): Promise<number> {
  let state: string | undefined
  try {
    state = parseArgs({ args: argv, options: { state: { type: 'string' } }, strict: true }).values.state
  } catch (err) {
    process.stderr.write(`imwire client-adapter: ${(err as Error).message}\n${USAGE}`)
    return 2
  }
  if (state === undefined) {
    process.stderr.write(USAGE)
    return 2
  }
  mkdirSync(state, { recursive: true })
  await runAdapter({ input: process.stdin, write: (b) => process.stdout.write(b) }, state)
  process.stdout.write('', () => process.exit(0))
  return 0
}
