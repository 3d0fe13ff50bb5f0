// One handshake per transport before the suite: is the target reachable, does
// it accept our test tokens, and which features does its Welcome offer (cases
// needing others are skipped with that reason).
import { create } from '@bufbuild/protobuf'
import { decodeFrame, encodeFrame } from '../../src/codec/index.js'
import { FrameSchema } from '../../src/gen/es/imwire/v1/frame_pb.js'
import { RUNNER_MAX_FRAME_BYTES } from '../drivers/tcp-transport.js'
import { TargetUnreachable, type TransportKind } from '../drivers/transport.js'
import { frameToJson } from '../judge/proto-json.js'
import { ID_PREFIX, testToken } from './scope.js'
import { FEATURES } from '../load/scenario-types.js'
import type { Problem, Report } from '../report/report-types.js'
import type { Target } from './target.js'

export interface ProbeResult {
  transport: TransportKind
  status: 'ok' | 'unreachable' | 'unauthorized' | 'no-welcome'
  features: string[]
  welcome?: unknown
  detail?: string
}

export const ALL_FEATURES: string[] = [...FEATURES]

export async function probe(
  target: Target,
  kind: TransportKind,
  secret: string,
  runId: string,
  timeoutMs: number,
  node?: number,
): Promise<ProbeResult> {
  let transport: Awaited<ReturnType<Target['open']>>
  try {
    transport = await target.open(kind, timeoutMs, undefined, node)
  } catch (err) {
    return {
      transport: kind,
      status: err instanceof TargetUnreachable ? 'unreachable' : 'no-welcome',
      features: [],
      detail: (err as Error).message,
    }
  }
  const user = `${ID_PREFIX}-${runId}-probe`
  const hello = create(FrameSchema, {
    body: {
      case: 'hello',
      value: {
        versions: [1],
        token: testToken(secret, user),
        deviceId: 'probe',
        features: ALL_FEATURES,
        clientName: 'imwire-conformance',
      },
    },
  })
  return new Promise<ProbeResult>((resolve) => {
    const finish = (r: ProbeResult) => {
      clearTimeout(timer)
      if (!transport.closed) {
        if (r.status === 'ok')
          transport.writeFrame(
            encodeFrame(create(FrameSchema, { body: { case: 'close', value: { code: 3000, reason: 'probe done' } } })),
          )
        transport.end(3000)
      }
      resolve(r)
    }
    const timer = setTimeout(
      () =>
        finish({ transport: kind, status: 'no-welcome', features: [], detail: `no Welcome within ${timeoutMs} ms` }),
      timeoutMs,
    )
    transport.onEvent((e) => {
      if (e.type === 'frame') {
        let f: ReturnType<typeof decodeFrame>
        try {
          f = decodeFrame(e.bytes, RUNNER_MAX_FRAME_BYTES)
        } catch (err) {
          return finish({
            transport: kind,
            status: 'no-welcome',
            features: [],
            detail: `undecodable first frame: ${(err as Error).message}`,
          })
        }
        if (f.body.case === 'welcome')
          return finish({
            transport: kind,
            status: 'ok',
            features: [...f.body.value.features],
            welcome: frameToJson(f),
          })
        if (f.body.case === 'close' && f.body.value.code === 3501) {
          return finish({
            transport: kind,
            status: 'unauthorized',
            features: [],
            detail: 'the server refused the test token (Close 3501): is --token-secret the secret the server uses?',
          })
        }
        return finish({
          transport: kind,
          status: 'no-welcome',
          features: [],
          detail: `first frame was ${JSON.stringify(frameToJson(f))}, not Welcome`,
        })
      }
      if (e.type === 'closed') {
        if (e.wsCode === 3501)
          return finish({
            transport: kind,
            status: 'unauthorized',
            features: [],
            detail: 'the server refused the test token (3501): check --token-secret',
          })
        return finish({
          transport: kind,
          status: 'no-welcome',
          features: [],
          detail: `connection closed (${e.how}${e.wsCode ? ` ${e.wsCode}` : ''}) before Welcome`,
        })
      }
      return finish({ transport: kind, status: 'no-welcome', features: [], detail: e.detail })
    })
    transport.writeFrame(encodeFrame(hello))
  })
}

/** How long the probe handshake may take (× time scale). */
const PROBE_TIMEOUT_MS = 5_000

/**
 * Phase 3 of a run: probe every transport (of every node, for a cluster);
 * problems are appended, the features each Welcome enabled returned (for a
 * cluster, those every node enabled: a case runs on several nodes at once).
 */
export async function probeTransports(
  target: Target,
  available: TransportKind[],
  secret: string,
  runId: string,
  timeScale: number,
  problems: Problem[],
): Promise<Report['features']> {
  const features: Report['features'] = {}
  const nodes = target.info().nodes
  for (const k of available) {
    for (let node = 0; node < (nodes?.length ?? 1); node++) {
      const p = await probe(target, k, secret, runId, PROBE_TIMEOUT_MS * timeScale, nodes ? node : undefined)
      const common = features[k]
      features[k] = common === undefined ? p.features : common.filter((f) => p.features.includes(f))
      const where = nodes ? `${k} node ${node + 1} (${nodes[node]?.[k] ?? '?'})` : k
      if (p.status === 'unreachable')
        problems.push({ kind: 'unreachable', message: `${where}: ${p.detail ?? 'unreachable'}` })
      else if (p.status === 'unauthorized')
        problems.push({ kind: 'unauthorized', message: `${where}: ${p.detail ?? 'unauthorized'}` })
      else if (p.status === 'no-welcome')
        problems.push({
          kind: 'no-welcome',
          message: `${where}: probe handshake failed: ${p.detail ?? ''} (running the suite anyway)`,
        })
    }
  }
  return features
}
