// ImwireClient: a connection that stays up, an outbox that never loses a
// send, deliveries in order and acknowledged.
//
// One client = one (user, device). It connects (TCP or WebSocket), sends
// Hello, waits for Welcome and the replay, then resends its outbox and pending
// requests; on any loss it reconnects with backoff and does it again. The
// parts with rules live in their own pure modules: Outbox (ids and send_seqs),
// SendPipeline (what is in flight, what an Error does), DeliveryTracker (order,
// dedupe, gaps, cumulative acks), Heartbeat (liveness), Backoff (delays),
// ReadInbox (read states, unread counts and the conversation list of the
// features "read-state" and "inbox", spec.md section 22).
import { EventEmitter } from 'node:events'
import { create } from '@bufbuild/protobuf'
import {
  CLIENT_WELCOME_TIMEOUT_MS,
  HEARTBEAT_DEFAULT_MS,
  CodecError,
  DEFAULT_MAX_BATCH_BYTES,
  DEFAULT_MAX_BATCH_FRAMES,
  DEFAULT_MAX_FRAME_BYTES,
  decodeBatch,
} from '../codec/index.js'
import { CloseCode, type Error as ErrorFrame } from '../gen/es/imwire/v1/control_pb.js'
import { type ConversationUpdated, UpdateReason } from '../gen/es/imwire/v1/conversation_pb.js'
import { type Frame, FrameSchema } from '../gen/es/imwire/v1/frame_pb.js'
import type { Welcome } from '../gen/es/imwire/v1/handshake_pb.js'
import type { InboxEntry, InboxPage } from '../gen/es/imwire/v1/inbox_pb.js'
import type { Deliver, Message, SendAck } from '../gen/es/imwire/v1/messaging_pb.js'
import {
  type CloseInfo,
  type Connection,
  connectTcp,
  connectWs,
  DEFAULT_CONNECT_TIMEOUT_MS,
} from '../transport/index.js'
import { Backoff } from './backoff.js'
import { ClientError, isTerminalClose } from './client-error.js'
import { type ClientStore, MemoryClientStore, type StoredClientState } from './client-store.js'
import type {
  ClientEvents,
  ClientState,
  Delivered,
  ImwireClientOptions,
  SendOptions,
  SendResult,
} from './client-types.js'
import { ConversationRequests, type HistoryOptions } from './conversation-requests.js'
import { DeliveryTracker } from './delivery-tracker.js'
import { DEFAULT_FEATURES, FEATURE_INBOX, FEATURE_READ_STATE } from './features.js'
import { Heartbeat } from './heartbeat.js'
import { type InboxPageOptions, InboxRequests } from './inbox-requests.js'
import type { InboxDelta, InboxFetchOptions } from './inbox-sync.js'
import { MessageStream } from './message-stream.js'
import { Outbox, type OutboxEntry } from './outbox.js'
import { type MarkReadOutcome, type ReadCountInfo, ReadInbox } from './read-inbox.js'
import type { ReadState } from './read-states.js'
import { RequestTracker } from './requests.js'
import { SendPipeline } from './send-pipeline.js'

/** LIM-1 default, used to refuse oversize messages before the first Welcome. */
const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024

/** One connection attempt and what we learnt on it. */
interface Link {
  conn: Connection
  welcome: Welcome | null
  heartbeat: Heartbeat | null
  closeCode: number
  closeReason: string
  retryAfterMs: number
  timer: NodeJS.Timeout | null
  handshakeTimer: NodeJS.Timeout | null
  nonce: bigint
  /** Deliveries handed over but not yet acknowledged. */
  unacked: number
}

export class ImwireClient extends EventEmitter<ClientEvents> {
  readonly deviceId: string
  private readonly opts: ImwireClientOptions
  private readonly store: ClientStore
  private readonly outbox: Outbox
  private readonly pipeline: SendPipeline
  private readonly tracker: DeliveryTracker<Delivered>
  private readonly requests: RequestTracker
  readonly conversations: ConversationRequests
  private readonly readInbox: ReadInbox
  private readonly backoff: Backoff
  private readonly now: () => number
  private readonly stream = new MessageStream<Delivered>()
  private readonly waiters = new Map<string, { resolve: (r: SendResult) => void; reject: (e: Error) => void }>()
  private readonly idleWaiters: Array<() => void> = []
  private readyWaiters: Array<{ resolve: (w: Welcome) => void; reject: (e: Error) => void }> = []
  private link: Link | null = null
  private current: ClientState = 'idle'
  private reconnectTimer: NodeJS.Timeout | null = null
  private ackTimer: NodeJS.Timeout | NodeJS.Immediate | null = null
  private readonly ackDirty = new Set<string>()
  private retryTimer: NodeJS.Timeout | null = null
  private readonly filling = new Set<string>()
  private lastWelcome: Welcome | null = null
  /** user_id from the last Welcome: tells own messages apart in history. */
  private userId = ''

  private constructor(
    opts: ImwireClientOptions,
    store: ClientStore,
    outbox: Outbox,
    positions: DeliveryTracker<Delivered>,
    stored: StoredClientState,
  ) {
    super()
    this.opts = opts
    this.deviceId = opts.deviceId
    this.store = store
    this.outbox = outbox
    this.tracker = positions
    this.now = opts.now ?? Date.now
    this.backoff = new Backoff(opts.backoff)
    this.pipeline = new SendPipeline(outbox, (e) => this.transmitSend(e), { random: opts.backoff?.random })
    this.pipeline.onExpired = (e) => this.onExpired(e)
    this.requests = new RequestTracker((f) => this.transmit(f))
    this.conversations = new ConversationRequests(this.requests)
    this.readInbox = new ReadInbox(store, stored, new InboxRequests(this.requests), {
      readState: (st, source) => this.emit('readState', st, source),
      peerRead: (p) => this.emit('peerRead', p),
      inbox: (d) => this.emit('inbox', d),
    })
  }

  /** Load the store (outbox, send sequences, positions) and build a client; call connect() next. */
  static async open(opts: ImwireClientOptions): Promise<ImwireClient> {
    if (opts.url === undefined && opts.connect === undefined) throw new TypeError('ImwireClient needs url or connect')
    const store = opts.store ?? new MemoryClientStore()
    const state = await store.load()
    const outbox = await Outbox.open(store, { now: opts.now, random: opts.randomBytes })
    return new ImwireClient(opts, store, outbox, new DeliveryTracker<Delivered>(state.positions), state)
  }

  get state(): ClientState {
    return this.current
  }

  /** Unacked sends (persisted in the store). */
  get outboxSize(): number {
    return this.outbox.size
  }

  get welcome(): Welcome | null {
    return this.lastWelcome
  }

  /** Features the last Welcome enabled (empty before the first). [HS-5] */
  get features(): readonly string[] {
    return this.lastWelcome?.features ?? []
  }

  /** Start connecting (and keep reconnecting); resolves at the first ready connection. */
  connect(): Promise<Welcome> {
    if (this.current === 'closed') return Promise.reject(new ClientError('CLIENT_CLOSED', 'client is closed'))
    const p = new Promise<Welcome>((resolve, reject) => this.readyWaiters.push({ resolve, reject }))
    if (this.current === 'ready' && this.lastWelcome !== null) this.resolveReady(this.lastWelcome)
    else if (this.current === 'idle') void this.attempt()
    return p
  }

  /**
   * Send a message: it enters the outbox (persisted, [SND-5]) before anything
   * goes on the wire, and resolves when the server acknowledged it durably. It
   * survives reconnects; with a persistent store it also survives a restart
   * (the new process gets an 'ack' event instead of this promise).
   */
  async send(conversationId: string, body: Uint8Array | string, opts: SendOptions = {}): Promise<SendResult> {
    if (this.current === 'closed') throw new ClientError('CLIENT_CLOSED', 'client is closed')
    const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : body
    const max = this.lastWelcome?.limits?.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES
    // [SND-3] a message the server must refuse never enters the outbox.
    if (bytes.length > max) throw new ClientError('MESSAGE_TOO_LARGE', `${bytes.length} bytes > ${max}`)
    const entry = await this.outbox.add(conversationId, bytes, opts)
    const done = new Promise<SendResult>((resolve, reject) => this.waiters.set(entry.id, { resolve, reject }))
    this.pipeline.add(entry, this.now())
    return done
  }

  /** Every delivered message from now on, in order per conversation. */
  messages(): AsyncIterableIterator<Delivered> {
    return this.stream.iterate()
  }

  /** Resolves when the outbox is empty (every send acknowledged or refused). */
  whenOutboxEmpty(): Promise<void> {
    if (this.outbox.size === 0) return Promise.resolve()
    return new Promise((r) => this.idleWaiters.push(r))
  }

  // --- read state, inbox, time-anchored history (spec.md section 22) ----------
  //
  // Each call that needs a feature rejects with FEATURE_NOT_ENABLED, sending
  // nothing, when the server's Welcome did not enable it. [GEN-2] [RD-1]

  /**
   * The user has read conversationId up to upToSeq ([RD-3]), in the epoch this
   * device knows. Resolves with the read state after the server's answer;
   * the user's other devices follow by ReadUpdated ([RD-4]).
   */
  markRead(conversationId: string, upToSeq: number): Promise<MarkReadOutcome> {
    return this.readInbox.markRead(conversationId, upToSeq, this.tracker.epoch(conversationId))
  }

  /** The read state this device holds for a conversation (live between server answers). */
  readState(conversationId: string): ReadState | undefined {
    return this.readInbox.readState(conversationId)
  }

  readStates(): ReadState[] {
    return this.readInbox.readStates()
  }

  /** Unread messages in one conversation, undefined when no read state is known yet. [RD-5] */
  unreadCount(conversationId: string): number | undefined {
    return this.readInbox.readState(conversationId)?.unreadCount
  }

  /** The badge: unread messages over every conversation with a known read state. */
  totalUnread(): number {
    return this.readInbox.totalUnread()
  }

  /** GROUP read receipt: how many members read message seq. [RD-7] */
  readCount(conversationId: string, seq: number): Promise<ReadCountInfo> {
    return this.readInbox.readCount(conversationId, seq)
  }

  /** One page of the conversation list, newest activity first. [INB-3] */
  inbox(opts: InboxPageOptions = {}): Promise<InboxPage> {
    return this.readInbox.inboxPage(opts)
  }

  /**
   * The whole conversation list (keyset pages, then a sync from the first
   * page's point so nothing that moved meanwhile is lost), activity
   * descending, each conversation once. Replaces the local list and its sync
   * point. [INB-4] [INB-5]
   */
  loadInbox(opts: InboxFetchOptions = {}): Promise<InboxEntry[]> {
    return this.readInbox.loadInbox(opts)
  }

  /**
   * Bring the local list up to date from the stored sync point (a full sync
   * when there is none, or when the server no longer knows it). [INB-5] [INB-6]
   */
  sync(opts: InboxFetchOptions = {}): Promise<InboxDelta> {
    return this.readInbox.sync(opts)
  }

  /** The local conversation list (from loadInbox/sync), activity descending, with live read states. */
  inboxEntries(): InboxEntry[] {
    return this.readInbox.entries()
  }

  /** The change number the local list is current to; 0 = never synced. */
  get syncPoint(): number {
    return this.readInbox.syncPoint
  }

  /** One page of history, by seq or (feature "history-time") by server time. [HIS-1] [HIS-10] */
  history(opts: HistoryOptions) {
    return this.conversations.history(opts)
  }

  /** Say goodbye (Close 3000), stop reconnecting, close the store. The outbox stays in the store. */
  async close(): Promise<void> {
    if (this.current === 'closed') return
    this.flushAcks()
    const link = this.link
    this.stop(new ClientError('CLIENT_CLOSED', 'client closed'))
    if (link !== null && !link.conn.closed) {
      const gone = new Promise<void>((r) => link.conn.once('close', () => r()))
      link.conn.close(CloseCode.NORMAL, 'client closing')
      await gone
    }
    await this.store.close()
  }

  // --- connection lifecycle ------------------------------------------------

  private setState(s: ClientState): void {
    if (this.current === s) return
    this.current = s
    this.emit('state', s)
  }

  private async attempt(): Promise<void> {
    this.reconnectTimer = null
    this.setState('connecting')
    let conn: Connection
    try {
      conn = await this.openConnection()
    } catch {
      if (this.current === 'closed') return
      this.scheduleReconnect(0, 0, 'connect failed')
      return
    }
    if (this.current === 'closed') {
      conn.destroy()
      return
    }
    const link: Link = {
      conn,
      welcome: null,
      heartbeat: null,
      closeCode: 0,
      closeReason: '',
      retryAfterMs: 0,
      timer: null,
      handshakeTimer: null,
      nonce: 1n,
      unacked: 0,
    }
    this.link = link
    conn.on('frame', (f) => {
      // After close() the socket still reads until it ends: a Welcome crossing
      // our Close must not make a closed client ready (and reconnect later).
      if (this.link === link && this.current !== 'closed') this.onFrame(link, f)
    })
    conn.on('codecError', (err) => conn.close(err.closeCode, err.code))
    conn.on('close', (info) => this.onClose(link, info))
    link.handshakeTimer = setTimeout(() => conn.destroy(), this.opts.handshakeTimeoutMs ?? CLIENT_WELCOME_TIMEOUT_MS)
    link.handshakeTimer.unref?.()
    this.setState('handshaking')
    // [HS-1] Hello first; [RSM-4] present what we hold so replay starts after it.
    const resume = this.tracker
      .positions()
      .map(([conversationId, p]) => ({ conversationId, seq: BigInt(p.seq), epoch: BigInt(p.epoch) }))
    conn.send(
      create(FrameSchema, {
        body: {
          case: 'hello',
          value: {
            versions: [1],
            token: this.opts.token,
            deviceId: this.opts.deviceId,
            features: [...(this.opts.features ?? DEFAULT_FEATURES)],
            heartbeatMs: this.opts.heartbeatMs ?? 0,
            receiveWindow: this.opts.receiveWindow ?? 0,
            resume,
            clientName: this.opts.clientName ?? 'imwire-js/0.1.0',
          },
        },
      }),
    )
  }

  private openConnection(): Promise<Connection> {
    if (this.opts.connect !== undefined) return this.opts.connect()
    const url = new URL(this.opts.url as string)
    const timeout = {
      connectTimeoutMs: this.opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
    }
    if (url.protocol === 'tcp:') return connectTcp(url.hostname.replace(/^\[|\]$/g, ''), Number(url.port), timeout)
    if (url.protocol === 'ws:' || url.protocol === 'wss:') return connectWs(url.href, timeout)
    return Promise.reject(new TypeError(`unsupported url scheme ${url.protocol}`))
  }

  private onClose(link: Link, info: CloseInfo): void {
    if (link.timer !== null) clearInterval(link.timer)
    if (link.handshakeTimer !== null) clearTimeout(link.handshakeTimer)
    if (this.link !== link) return
    this.link = null
    this.pipeline.close()
    this.requests.offline()
    if (this.current === 'closed') return
    // The server's Close frame says why; a WS close code counts only when it
    // came from the server (our own closes carry our codes).
    const code = link.closeCode || (info.local ? 0 : (info.wsCode ?? 0))
    if (isTerminalClose(code)) {
      // [RTY-4] terminal: a person or a fix must act; 3509 means another
      // connection of this device is alive, so coming back would fight it.
      this.emit('disconnected', { code, reason: link.closeReason, reconnectInMs: null })
      this.stop(new ClientError('TERMINATED', `server closed with ${code}`, { closeCode: code as CloseCode }))
      return
    }
    this.scheduleReconnect(code, link.retryAfterMs, link.closeReason)
  }

  private scheduleReconnect(code: number, retryAfterMs: number, reason: string): void {
    if (this.opts.reconnect === false) {
      this.emit('disconnected', { code, reason, reconnectInMs: null })
      this.stop(new ClientError('TERMINATED', `connection lost (${code}) and reconnect is off`, { closeCode: code }))
      return
    }
    // [RTY-3] exponential, full jitter, never before retry_after_ms.
    const delay = this.backoff.next(retryAfterMs)
    this.setState('waiting')
    this.emit('disconnected', { code, reason, reconnectInMs: delay })
    this.reconnectTimer = setTimeout(() => void this.attempt(), delay)
  }

  private stop(err: ClientError): void {
    this.setState('closed')
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer)
    if (this.retryTimer !== null) clearTimeout(this.retryTimer)
    if (this.ackTimer !== null) clearTimeout(this.ackTimer as NodeJS.Timeout)
    this.pipeline.close()
    this.requests.failAll(err)
    for (const w of this.waiters.values()) w.reject(err)
    this.waiters.clear()
    for (const w of this.readyWaiters) w.reject(err)
    this.readyWaiters = []
    this.stream.end()
    this.emit('terminated', err)
    const link = this.link
    if (link !== null && err.code !== 'CLIENT_CLOSED') link.conn.destroy()
  }

  private resolveReady(w: Welcome): void {
    const ws = this.readyWaiters
    this.readyWaiters = []
    for (const r of ws) r.resolve(w)
  }

  private transmit(frame: Frame): void {
    const link = this.link
    if (link === null || this.current !== 'ready') return
    link.conn.send(frame)
    link.heartbeat?.sent(this.now())
  }

  private transmitSend(e: OutboxEntry): void {
    this.transmit(
      create(FrameSchema, {
        body: {
          case: 'send',
          value: {
            clientMsgId: e.clientMsgId,
            conversationId: e.conversationId,
            sendSeq: BigInt(e.sendSeq),
            contentType: e.contentType,
            body: e.body,
          },
        },
      }),
    )
  }

  private onTick(link: Link): void {
    const hb = link.heartbeat
    if (hb === null || this.link !== link) return
    const action = hb.check(this.now(), this.pipeline.oldestInflightAt)
    if (action === 'dead') {
      // [HB-3] [RTY-1] silence: the link is gone even if the socket does not know it.
      link.conn.destroy()
    } else if (action === 'ping') {
      link.conn.send(create(FrameSchema, { body: { case: 'ping', value: { nonce: link.nonce++ } } }))
      hb.sent(this.now())
    }
  }

  // --- inbound frames ------------------------------------------------------

  private onFrame(link: Link, f: Frame): void {
    link.heartbeat?.received(this.now())
    const b = f.body
    switch (b.case) {
      case 'welcome':
        this.onWelcome(link, b.value)
        return
      case 'replayComplete':
        this.onReplayComplete(link)
        return
      case 'deliver':
        this.onDeliver(link, b.value)
        return
      case 'sendAck':
        this.onSendAck(b.value)
        return
      case 'error':
        this.onError(b.value)
        return
      case 'ping':
        link.conn.send(create(FrameSchema, { body: { case: 'pong', value: { nonce: b.value.nonce } } }))
        link.heartbeat?.sent(this.now())
        return
      case 'close':
        // [ERR-3] stop sending and end the transport; over WebSocket the
        // close frame echoes the Close's code. [ERR-16]
        link.closeCode = b.value.code
        link.closeReason = b.value.reason
        link.retryAfterMs = b.value.retryAfterMs
        link.conn.end(b.value.code)
        return
      case 'batch': {
        const w = link.welcome
        let inner: Frame[]
        try {
          // Our receive limits are the protocol defaults (we advertise no others in Hello).
          inner = decodeBatch(f, {
            maxBatchBytes: DEFAULT_MAX_BATCH_BYTES,
            maxBatchFrames: DEFAULT_MAX_BATCH_FRAMES,
            maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
            lz4Enabled: w?.features.includes('lz4') ?? false,
          })
        } catch (err) {
          if (err instanceof CodecError) link.conn.close(err.closeCode, err.code)
          else throw err
          return
        }
        for (const g of inner) if (this.link === link) this.onFrame(link, g)
        return
      }
      case 'conversationUpdated':
        this.onUpdated(b.value)
        return
      case 'conversationResult':
        if (b.value.conversation !== undefined) {
          const c = b.value.conversation
          this.emitAll(this.tracker.setCursor(c.conversationId, Number(c.cursor), Number(c.epoch)).items)
          // [RD-6] only meaningful where the feature is on ([RD-1]: unset otherwise).
          if (enabled(link, FEATURE_READ_STATE)) this.readInbox.onConversationInfo(c)
        }
        this.requests.settle(b.value.requestId, b.value)
        return
      case 'conversationList':
        for (const c of b.value.conversations) {
          this.emitAll(this.tracker.setCursor(c.conversationId, Number(c.cursor), Number(c.epoch)).items)
          if (enabled(link, FEATURE_READ_STATE)) this.readInbox.onConversationInfo(c)
        }
        this.requests.settle(b.value.requestId, b.value)
        return
      case 'historyPage':
      case 'markReadResult':
      case 'readCountResult':
        this.requests.settle(b.value.requestId, b.value)
        return
      case 'inboxPage':
      case 'syncPage':
        // Each entry carries this device's cursor, as a listing does.
        for (const e of b.value.entries) {
          this.emitAll(this.tracker.setCursor(e.conversationId, Number(e.cursor), Number(e.epoch)).items)
        }
        this.requests.settle(b.value.requestId, b.value)
        return
      case 'readUpdated':
        if (b.value.state !== undefined) this.readInbox.onReadUpdated(b.value.state)
        return
      case 'peerRead':
        this.readInbox.onPeerRead(b.value)
        return
      default:
        return
    }
  }

  private onWelcome(link: Link, w: Welcome): void {
    link.welcome = w
    this.lastWelcome = w
    this.userId = w.userId
    link.heartbeat = new Heartbeat(
      { heartbeatMs: w.heartbeatMs || HEARTBEAT_DEFAULT_MS, deadMarginMs: this.opts.deadMarginMs },
      this.now(),
    )
    link.timer = setInterval(() => this.onTick(link), link.heartbeat.checkEveryMs)
    link.timer.unref?.()
    // The server's cursors are what counts on this connection.
    this.tracker.resetAcked()
    this.setState('replaying')
  }

  private onReplayComplete(link: Link): void {
    if (link.handshakeTimer !== null) clearTimeout(link.handshakeTimer)
    const now = this.now()
    this.scheduleAck()
    this.backoff.reset()
    this.setState('ready')
    const limits = link.welcome?.limits
    const window = Math.min(limits?.maxInflightSends || 256, this.opts.maxInflightSends ?? Number.POSITIVE_INFINITY)
    this.requests.online((feature) => enabled(link, feature))
    // [RTY-2] resend the outbox in original order with the same ids and send_seqs.
    this.pipeline.open(window, now, Number(limits?.dedupeWindowMs ?? 0n))
    if (link.welcome !== null) {
      this.emit('ready', link.welcome)
      this.resolveReady(link.welcome)
    }
    // What moved while this device was away (read positions included: an
    // offline device is not sent ReadUpdated later [RD-4]). A failure is
    // not fatal: the application's own sync() call reports it.
    if (this.opts.syncOnReady !== false && enabled(link, FEATURE_INBOX)) void this.sync().catch(() => {})
  }

  private onDeliver(link: Link, d: Deliver): void {
    const m = d.message
    if (m === undefined) return
    const seq = Number(m.seq)
    const epoch = Number(d.epoch)
    link.unacked++
    const item = toDelivered(m, epoch, d.replayed, false)
    this.emitAll(this.tracker.deliver(m.conversationId, seq, epoch, item))
    this.ackDirty.add(m.conversationId)
    // Half the receive window unacked: ack now rather than let the server stall. [FLW-1]
    const window = link.welcome?.limits?.receiveWindow || 256
    if (link.unacked * 2 >= window) this.flushAcks()
    else this.scheduleAck()
  }

  private onSendAck(a: SendAck): void {
    const id = Buffer.from(a.clientMsgId).toString('hex')
    const now = this.now()
    const entry = this.pipeline.acked(id, now) ?? this.outbox.get(id)
    if (entry === undefined) return
    void this.outbox.remove(id)
    const result: SendResult = {
      id,
      conversationId: a.conversationId,
      sendSeq: entry.sendSeq,
      seq: Number(a.seq),
      messageId: a.messageId,
      serverTimeMs: Number(a.serverTimeMs),
      epoch: Number(a.epoch),
      duplicate: a.duplicate,
    }
    // [DLV-5] our own message counts as held; the cumulative ack may cover it.
    this.emitAll(this.tracker.own(a.conversationId, result.seq, result.epoch))
    // Raises top_seq, never the unread count. [RD-5]
    this.readInbox.onMessage(a.conversationId, result.seq, result.epoch, false)
    this.ackDirty.add(a.conversationId)
    this.scheduleAck()
    const w = this.waiters.get(id)
    this.waiters.delete(id)
    w?.resolve(result)
    this.emit('ack', result)
    this.checkIdle()
  }

  private onError(e: ErrorFrame): void {
    if (e.requestId !== 0) {
      this.requests.fail(e.requestId, new ClientError('REJECTED', e.message, { errorCode: e.code }))
      return
    }
    if (e.clientMsgId.length === 0) return
    const id = Buffer.from(e.clientMsgId).toString('hex')
    const now = this.now()
    const out = this.pipeline.failed(
      id,
      {
        code: e.code,
        retryable: e.retryable,
        retryAfterMs: e.retryAfterMs,
        expectedSendSeq: Number(e.expectedSendSeq),
      },
      now,
    )
    if (out.kind === 'rejected') {
      const err = new ClientError('REJECTED', e.message, { errorCode: e.code })
      const w = this.waiters.get(id)
      this.waiters.delete(id)
      w?.reject(err)
      this.emit('rejected', out.entry, err)
      this.checkIdle()
    }
    this.scheduleRetry()
  }

  /**
   * [RTY-6] too old to resend: reported as failed and removed. Not renumbered
   * ([ORD-9] is for messages known not to be committed): if it was not, the
   * server's expected_send_seq says so and the outbox resyncs then.
   */
  private onExpired(e: OutboxEntry): void {
    void this.outbox.remove(e.id)
    const err = new ClientError('EXPIRED', 'unacknowledged for longer than dedupe_window_ms')
    const w = this.waiters.get(e.id)
    this.waiters.delete(e.id)
    w?.reject(err)
    this.emit('rejected', e, err)
    this.checkIdle()
  }

  private onUpdated(u: ConversationUpdated): void {
    // The notice carries this device's cursor; a new epoch starts the
    // conversation over from it (the tracker resets on an epoch change). Joined
    // with history, too much to replay [RSM-2] or a new epoch: page history up
    // to the announced top, holding later deliveries behind it.
    // A reason this client does not know is a pull too. [GEN-4]
    const quiet = [UpdateReason.REMOVED, UpdateReason.MEMBERS_CHANGED]
    const top = quiet.includes(u.reason) ? 0 : Number(u.topSeq)
    if (u.reason === UpdateReason.JOINED && this.features.includes(FEATURE_READ_STATE))
      this.readInbox.onJoined(u.conversationId, Number(u.epoch), Number(u.topSeq))
    if (u.reason === UpdateReason.REMOVED) this.readInbox.onRemoved(u.conversationId)
    const r = this.tracker.setCursor(u.conversationId, Number(u.cursor), Number(u.epoch), top)
    this.emitAll(r.items)
    if (r.pull) void this.fillFromHistory(u.conversationId, top)
    this.emit('updated', u)
  }

  // --- helpers ---------------------------------------------------------------

  private emitAll(items: Delivered[]): void {
    for (const m of items) {
      // Before the 'message' event, so a listener reads the badge with it counted.
      this.readInbox.onMessage(m.conversationId, m.seq, m.epoch, m.senderUserId !== this.userId)
      this.emit('message', m)
      this.stream.push(m)
    }
  }

  private checkIdle(): void {
    if (this.outbox.size !== 0) return
    const ws = this.idleWaiters.splice(0)
    for (const w of ws) w()
  }

  private scheduleRetry(): void {
    if (this.retryTimer !== null) return
    const wake = this.pipeline.tick(this.now())
    if (wake === null) return
    this.retryTimer = setTimeout(
      () => {
        this.retryTimer = null
        this.scheduleRetry()
      },
      Math.max(1, wake - this.now()),
    )
  }

  private scheduleAck(): void {
    if (this.ackTimer !== null || this.ackDirty.size === 0) return
    const delay = this.opts.ackDelayMs ?? 5
    this.ackTimer = delay <= 0 ? setImmediate(() => this.flushAcks()) : setTimeout(() => this.flushAcks(), delay)
  }

  /** Send one cumulative DeliverAck per conversation that moved. [DLV-2] */
  private flushAcks(): void {
    if (this.ackTimer !== null) {
      clearTimeout(this.ackTimer as NodeJS.Timeout)
      clearImmediate(this.ackTimer as NodeJS.Immediate)
      this.ackTimer = null
    }
    const link = this.link
    if (link === null || (this.current !== 'ready' && this.current !== 'replaying')) return
    for (const c of this.ackDirty) {
      const up = this.tracker.ackDue(c)
      if (up === null) continue
      link.conn.send(
        create(FrameSchema, { body: { case: 'deliverAck', value: { conversationId: c, upToSeq: BigInt(up) } } }),
      )
      this.tracker.markAcked(c, up)
      void this.store
        .write([{ op: 'position', conversationId: c, seq: up, epoch: this.tracker.epoch(c) }])
        .catch(() => {})
    }
    this.ackDirty.clear()
    link.unacked = 0
    link.heartbeat?.sent(this.now())
  }

  /** Read history forward from our position up to upTo, handing over what we lacked. */
  private async fillFromHistory(conversationId: string, upTo: number): Promise<void> {
    if (this.filling.has(conversationId)) return
    this.filling.add(conversationId)
    try {
      // Bounded: each page moves the position forward or ends the loop. The
      // target is re-read every page: a notice that arrives meanwhile (a
      // reconnect's REPLAY_LIMIT) raises it, and stopping at the first top
      // would let endPull() jump over the seqs in between.
      for (;;) {
        const from = this.tracker.position(conversationId) ?? 0
        const target = Math.max(upTo, this.tracker.pullTarget(conversationId) ?? 0)
        if (from >= target || this.current === 'closed') break
        const page = await this.conversations.history({ conversationId, anchorSeq: from })
        for (const m of page.messages) {
          const own = m.senderUserId === this.userId && m.senderDeviceId === this.deviceId
          const item = own ? null : toDelivered(m, Number(page.epoch), false, true)
          this.emitAll(this.tracker.fill(conversationId, Number(m.seq), Number(page.epoch), item))
        }
        this.ackDirty.add(conversationId)
        this.scheduleAck()
        if (!page.hasMore || page.messages.length === 0 || (this.tracker.position(conversationId) ?? 0) <= from) break
      }
    } catch {
      // Not a member any more, or the client closed: nothing left to pull.
    } finally {
      this.filling.delete(conversationId)
      this.emitAll(this.tracker.endPull(conversationId))
    }
  }
}

/** The connection's Welcome enabled the feature. [HS-6] */
function enabled(link: Link, feature: string): boolean {
  return link.welcome?.features.includes(feature) ?? false
}

function toDelivered(m: Message, epoch: number, replayed: boolean, fromHistory: boolean): Delivered {
  return {
    conversationId: m.conversationId,
    seq: Number(m.seq),
    epoch,
    messageId: m.messageId,
    senderUserId: m.senderUserId,
    senderDeviceId: m.senderDeviceId,
    clientMsgId: m.clientMsgId,
    contentType: m.contentType,
    body: m.body,
    serverTimeMs: Number(m.serverTimeMs),
    replayed,
    fromHistory,
  }
}
