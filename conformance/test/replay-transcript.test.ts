// Replaying a transcript through the model: what it judges from the
// transcript rather than from frames — idle Closes by the transcript's clock
// [HB-2], and raw bytes under the WebSocket framing [FRM-2] [FRM-3] [FRM-13]
// [FRM-15] — allows what the spec allows and names the rule otherwise.
import t from 'tap'
import { encodeFrame } from '../../src/codec/index.js'
import { testToken } from '../engine/scope.js'
import type { TranscriptEntry } from '../engine/transcript.js'
import { frameFromJson } from '../judge/proto-json.js'
import { replayTranscript } from '../model/replay-transcript.js'

const SECRET = 's'
const opts = { secret: SECRET, durable: true, transport: 'ws' } as const

const frame = (t: number, dir: 'in' | 'out', json: unknown): TranscriptEntry => ({
  t,
  conn: 'a1',
  dir,
  hex: Buffer.from(encodeFrame(frameFromJson(json))).toString('hex'),
})
const event = (t: number, ev: string, detail = ''): TranscriptEntry => ({
  t,
  conn: 'a1',
  dir: 'event',
  event: ev,
  detail,
})
const raw = (t: number, hex: string): TranscriptEntry => ({
  t,
  conn: 'a1',
  dir: 'out',
  event: 'raw',
  detail: 'raw WebSocket bytes (under the WebSocket framing)',
  hex,
})

/** alice connects with a heartbeat of 1000 ms and is welcomed at t=10. */
function opened(): TranscriptEntry[] {
  return [
    event(0, 'connect'),
    frame(1, 'out', {
      hello: { versions: [1], token: testToken(SECRET, 'alice'), deviceId: 'd', heartbeatMs: 1000 },
    }),
    frame(10, 'in', {
      welcome: {
        version: 1,
        sessionId: 's',
        userId: 'alice',
        deviceId: 'd',
        heartbeatMs: 1000,
        limits: {
          maxFrameBytes: 1048576,
          maxBatchBytes: 4194304,
          maxBatchFrames: 1024,
          maxMessageBytes: 65536,
          receiveWindow: 256,
          maxInflightSends: 64,
          replayLimit: 500,
          historyPageMax: 100,
          maxGroupMembers: 1000,
        },
      },
    }),
    frame(10, 'in', { replayComplete: {} }),
  ]
}

const ping = (t: number, nonce: number) => frame(t, 'out', { ping: { nonce: String(nonce) } })
const pong = (t: number, nonce: number) => frame(t, 'in', { pong: { nonce: String(nonce) } })
const idleClose = (t: number) => frame(t, 'in', { close: { code: 'CLOSE_CODE_HEARTBEAT_TIMEOUT' } })

t.test(
  'an idle Close is allowed after 1.5 heartbeats of client silence, even one its next write crossed',
  async (t) => {
    const talking = [...opened(), ping(300, 1), pong(301, 1), ping(600, 2), pong(601, 2), ping(900, 3), pong(901, 3)]
    const early = replayTranscript([...talking, idleClose(1100)], opts)
    t.equal(early.violation?.requirement, 'HB-2', 'no silence of 1.5 heartbeats: the Close is wrong')
    const silent = replayTranscript([...talking, idleClose(2500)], opts)
    t.equal(silent.violation, null, 'silent since t=900')
    const crossed = replayTranscript([...talking, ping(2450, 4), idleClose(2500)], opts)
    t.equal(crossed.violation, null, 'the Ping at t=2450 crossed a Close decided before the server read it')
  },
)

t.test('raw WebSocket bytes are read as the server’s WebSocket layer must read them', async (t) => {
  // masked binary message holding Ping{nonce:1} (key 0): the server answers it
  const maskedPing = raw(20, '82840000000042020801')
  t.equal(replayTranscript([...opened(), maskedPing, pong(25, 1)], opts).violation, null)
  t.equal(replayTranscript([...opened(), maskedPing, pong(25, 2)], opts).violation?.requirement, 'HB-1')

  // unmasked: a protocol error, the WebSocket fails with 1002 and no Close [FRM-15]
  const unmasked = raw(20, '820442020801')
  t.equal(replayTranscript([...opened(), unmasked, event(25, 'ws-close', 'ws code 1002')], opts).violation, null)
  t.equal(
    replayTranscript([...opened(), unmasked, event(25, 'ws-close', 'ws code 1000')], opts).violation?.requirement,
    'FRM-15',
  )
  t.equal(
    replayTranscript([...opened(), unmasked, frame(24, 'in', { close: { code: 'CLOSE_CODE_MALFORMED_FRAME' } })], opts)
      .violation?.requirement,
    'FRM-15',
  )

  // a close frame with a deployment code acts as a Close [FRM-13]
  const close4001 = raw(20, '8882000000000fa1')
  t.equal(replayTranscript([...opened(), close4001, event(25, 'ws-close', 'ws code 4001')], opts).violation, null)

  // a header announcing 32 MiB: Close 3503 before the payload [FRM-3]
  const oversize = raw(20, '82ff00000000020000000000000042020801')
  const tooLarge = frame(22, 'in', { close: { code: 'CLOSE_CODE_FRAME_TOO_LARGE' } })
  t.equal(
    replayTranscript([...opened(), oversize, tooLarge, event(23, 'ws-close', 'ws code 3503')], opts).violation,
    null,
  )
  t.equal(
    replayTranscript([...opened(), oversize, event(23, 'ws-close', 'ws code 1000')], opts).violation?.requirement,
    'FRM-3',
  )

  // a text message: 3504 [FRM-2]
  const text = raw(20, '818400000000' + '6869' + '6869')
  const malformed = frame(22, 'in', { close: { code: 'CLOSE_CODE_MALFORMED_FRAME' } })
  t.equal(replayTranscript([...opened(), text, malformed, event(23, 'ws-close', 'ws code 3504')], opts).violation, null)
  t.equal(
    replayTranscript([...opened(), text, event(23, 'ws-close', 'ws code 1000')], opts).violation?.requirement,
    'FRM-2',
  )
})
