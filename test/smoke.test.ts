import t from 'tap'
import { create, toBinary } from '@bufbuild/protobuf'
import { FrameSchema } from '../src/gen/es/imwire/v1/frame_pb.js'
import { Frame } from '../src/gen/tsproto/imwire/v1/frame.js'
t.test('smoke', async (t) => {
  const f = create(FrameSchema, { body: { case: 'ping', value: { nonce: 5n } } })
  const a = toBinary(FrameSchema, f)
  const b = Frame.encode({ ping: { nonce: 5n } } as any).finish()
  t.same(Buffer.from(a), Buffer.from(b))
})
