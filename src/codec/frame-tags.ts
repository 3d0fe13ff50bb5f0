// Frame.body tags, derived from the generated descriptor of Frame (never
// typed as literals): a hand-written encoder, decoder or load generator that
// writes or matches a body tag reads it here, so a field renumbered in
// proto/ changes every one of them at once. [FRM-1]
import type { Frame } from '../gen/es/imwire/v1/frame_pb.js'
import { FrameSchema } from '../gen/es/imwire/v1/frame_pb.js'

/** Protobuf wire type of a length-delimited field (every Frame.body member is a message). */
const WIRE_TYPE_LEN = 2

/** The `case` names of Frame.body. */
export type FrameBodyCase = Exclude<Frame['body']['case'], undefined>

/** Field number of each Frame.body member, from FrameSchema. */
export const FRAME_FIELD: Readonly<Record<FrameBodyCase, number>> = Object.freeze(
  Object.fromEntries(
    FrameSchema.fields.filter((f) => f.oneof?.name === 'body').map((f) => [f.localName, f.number]),
  ) as Record<FrameBodyCase, number>,
)

/**
 * Tag of each Frame.body member: (field number << 3) | 2, as a number. A
 * field above 15 needs a tag of two varint bytes (write it with writeVarint);
 * fields 1 to 15 have a one-byte tag equal to this value.
 */
export const FRAME_TAG: Readonly<Record<FrameBodyCase, number>> = Object.freeze(
  Object.fromEntries(Object.entries(FRAME_FIELD).map(([name, no]) => [name, (no << 3) | WIRE_TYPE_LEN])) as Record<
    FrameBodyCase,
    number
  >,
)
