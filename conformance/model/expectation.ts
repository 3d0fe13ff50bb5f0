// What the model expects a server to send on one connection: frames waiting
// in lanes. A lane is ordered where the spec fixes an order (a connection's
// Send answers [SND-4]; one conversation's deliveries and its JOINED/REMOVED
// notices [DLV-1] [CNV-14]) and unordered elsewhere (request answers, Pongs,
// MEMBERS_CHANGED notices), so that every interleaving the spec allows is
// accepted, not only the reference server's.
import type { Json } from '../load/scenario-types.js'

export interface Expectation {
  readonly id: number
  /** 'handshake' | 'send' | 'free' | 'close' | 'replay-end' | `conv:${id}` */
  readonly lane: string
  /** The body case expected (`sendAck`, `deliver`, ...). */
  readonly body: string
  /** Other body cases the matcher allows (an answer that may be a result or an Error). */
  readonly orBodies?: readonly string[]
  /** Protobuf-JSON matcher (session-language operators), with `{$sym}` for server-chosen values. */
  matcher(): Json
  /** Extra judgement the matcher language cannot say; returns the problem or null. */
  check?(actual: Json): string | null
  /** The requirement broken when this frame is wrong or missing. */
  readonly req: string
  /** What it is, for messages. */
  readonly label: string
  /**
   * Deliveries: subject to the window, skippable at or below the cursor.
   * `replay` 'either': committed around the replay boundary, so replayed
   * before ReplayComplete or live after it [RSM-7].
   */
  readonly deliver?: { conv: string; seq: number; replay: boolean | 'either' }
  /** Notices. */
  readonly notice?: { conv: string; reason: string }
  /** Live traffic: only after ReplayComplete [HS-11] [CNV-14]. */
  readonly afterReplay: boolean
  /** Called once the frame is observed (or, in simulation, assumed). */
  onMatch?(actual: Json): void
}

export interface Violation {
  conn: string
  /** Requirement id of the broken rule. */
  requirement: string
  message: string
  /** The frame observed (protobuf JSON), when a frame was wrong. */
  frame?: Json
}
