// What a receiver does with a frame that decodes cleanly but that it cannot
// accept whatever the connection state: `imwire decode` says so next to the
// frame instead of leaving the reader to think the bytes are fine.
import type { Frame } from '../gen/es/imwire/v1/frame_pb.js'
import { CloseCode } from '../gen/es/imwire/v1/control_pb.js'

export interface ReceiverClose {
  code: CloseCode
  /** Proto name of the close code, e.g. CLOSE_CODE_UNSUPPORTED_FRAME. */
  name: string
  requirement: string
  reason: string
}

const closes = (code: CloseCode, requirement: string, reason: string): ReceiverClose => ({
  code,
  name: `CLOSE_CODE_${CloseCode[code]}`,
  requirement,
  reason,
})

/** The close a receiver answers `frame` with in any state, or undefined when it may accept it. */
export function receiverClose(frame: Frame, inBatch: boolean): ReceiverClose | undefined {
  if (frame.body.case === undefined) {
    // The codec drops unknown fields, so an empty frame and one whose body uses
    // a field number v1 does not define (14, 15, 25 and up) look the same here.
    return closes(CloseCode.UNSUPPORTED_FRAME, 'FRM-7', 'no body v1 knows (an empty frame, or only unknown fields)')
  }
  if (inBatch && frame.body.case === 'hello')
    return closes(CloseCode.UNEXPECTED_FRAME, 'BAT-12', 'a Hello inside a Batch')
  return undefined
}
