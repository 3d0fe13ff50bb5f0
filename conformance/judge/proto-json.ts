// Protobuf JSON views of frames, shared by the matcher, transcripts and the
// vector loader.
import { type DescEnum, fromJson, type JsonValue, toJson } from '@bufbuild/protobuf'
import { file_imwire_v1_control } from '../../src/gen/es/imwire/v1/control_pb.js'
import { file_imwire_v1_conversation } from '../../src/gen/es/imwire/v1/conversation_pb.js'
import { type Frame, FrameSchema, file_imwire_v1_frame } from '../../src/gen/es/imwire/v1/frame_pb.js'
import { file_imwire_v1_handshake } from '../../src/gen/es/imwire/v1/handshake_pb.js'
import { file_imwire_v1_messaging } from '../../src/gen/es/imwire/v1/messaging_pb.js'

const files = [
  file_imwire_v1_control,
  file_imwire_v1_conversation,
  file_imwire_v1_frame,
  file_imwire_v1_handshake,
  file_imwire_v1_messaging,
]

/** Every imwire enum value by its (globally unique, prefixed) name. */
export const ENUM_NUMBER_BY_NAME: ReadonlyMap<string, number> = (() => {
  const m = new Map<string, number>()
  for (const f of files) for (const e of f.enums) for (const v of e.values) m.set(v.name, v.number)
  return m
})()

export function enumName(desc: DescEnum, n: number): string | undefined {
  return desc.values.find((v) => v.number === n)?.name
}

/** Compact form for transcripts and reports: default values omitted. */
export function frameToJson(frame: Frame): JsonValue {
  return toJson(FrameSchema, frame)
}

/** Full form for matching: every implicit field present with its default. */
export function frameToMatchJson(frame: Frame): JsonValue {
  return toJson(FrameSchema, frame, { alwaysEmitImplicit: true })
}

/** Frame from protobuf JSON; throws on unknown fields or bad values. */
export function frameFromJson(json: unknown): Frame {
  return fromJson(FrameSchema, json as JsonValue)
}

/** Short name of a frame's body for messages: "sendAck", "close", "(empty)". */
export function bodyName(frame: Frame): string {
  return frame.body.case ?? '(empty)'
}
