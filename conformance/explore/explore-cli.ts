// `imwire conformance explore`: its own option parsing (node:util parseArgs),
// hooked into the conformance CLI by one line.
import { parseArgs } from 'node:util'
import { UsageError } from '../engine/target.js'
import { explore } from './explore.js'

export const EXPLORE_USAGE = `usage: imwire conformance explore [options]

Random multi-user, multi-device histories over TCP and WebSocket at once,
every frame judged by the executable model of the spec; a disagreement is
shrunk into a session vector.

  --seed N             first seed (run i uses N + i; printed either way)
  --steps N            actions per run (default 60)
  --budget DUR         wall-clock budget: 60s, 5m, 300000 (default 60s)
  --runs N             at most N runs
  --target URL         tcp://HOST:PORT or ws://HOST:PORT/PATH (repeatable; needs --token-secret)
  --token-secret S     test-token secret (or IMWIRE_TOKEN_SECRET)
  --spawn CMD          start the server with CMD ({datadir}, {secret}); restarts on
  --memory             bundled server with the in-memory store (no restarts)
  --serve-arg ARG      extra argument for the bundled server (repeatable)
  --no-restarts        never restart the server
  --vector-out DIR     write the shrunk vector there (default: print it)
  -h, --help           this text

Exit codes: 0 no disagreement, 1 disagreement found, 2 usage error.
`

export function parseDuration(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(s)
  if (!m) throw new UsageError(`--budget ${s}: expected e.g. 60s, 5m or milliseconds`)
  const n = Number(m[1])
  return m[2] === 's' ? n * 1000 : m[2] === 'm' ? n * 60_000 : n
}

function int(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined
  if (!/^\d+$/.test(v)) throw new UsageError(`--${name} ${v}: expected a non-negative integer`)
  return Number(v)
}

export async function runExploreCli(
  argv: string[],
  io: { stdout: { write(s: string): boolean }; stderr: { write(s: string): boolean } },
): Promise<number> {
  let values: ReturnType<typeof parse>['values']
  try {
    values = parse(argv).values
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
  if (values.help) {
    io.stdout.write(EXPLORE_USAGE)
    return 0
  }
  const targets = values.target ?? []
  if (targets.length > 0 && values.spawn) throw new UsageError('--target and --spawn exclude each other')
  const secret = values['token-secret'] ?? process.env.IMWIRE_TOKEN_SECRET
  if (targets.length > 0 && !secret) throw new UsageError('--target needs --token-secret (or IMWIRE_TOKEN_SECRET)')
  const serveArgs = [...(values.memory ? ['--memory'] : []), ...(values['serve-arg'] ?? [])]
  const seed = int('seed', values.seed)
  const steps = int('steps', values.steps)
  const runs = int('runs', values.runs)
  const r = await explore({
    ...(seed !== undefined ? { seed } : {}),
    ...(steps !== undefined ? { steps } : {}),
    ...(runs !== undefined ? { runs } : {}),
    budgetMs: parseDuration(values.budget ?? '60s'),
    ...(targets.length ? { targets } : {}),
    ...(secret ? { tokenSecret: secret } : {}),
    ...(values.spawn ? { spawn: values.spawn } : {}),
    serveArgs,
    restarts: !values['no-restarts'],
    ...(values['vector-out'] ? { vectorOut: values['vector-out'] } : {}),
    log: (l) => io.stderr.write(`${l}\n`),
  })
  if (r.finding) {
    const f = r.finding
    io.stdout.write(
      `disagreement: [${f.violation.requirement}] on ${f.violation.conn}: ${f.violation.message}\n` +
        `seed ${f.seed}; shrunk from ${f.actions.length} to ${f.shrunk.length} action(s)${f.confirmed ? ' (confirmed)' : ' (not confirmed on replay)'}\n` +
        (f.vectorPath ? `vector: ${f.vectorPath}\n` : `${JSON.stringify(f.vector, null, 2)}\n`),
    )
    return 1
  }
  io.stdout.write(
    `no disagreement: ${r.runs} run(s), ${r.steps} steps in ${(r.wallMs / 1000).toFixed(1)} s (seeds ${r.seeds[0]}..${r.seeds.at(-1)})\n`,
  )
  return 0
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      seed: { type: 'string' },
      steps: { type: 'string' },
      budget: { type: 'string' },
      runs: { type: 'string' },
      target: { type: 'string', multiple: true },
      'token-secret': { type: 'string' },
      spawn: { type: 'string' },
      memory: { type: 'boolean' },
      'serve-arg': { type: 'string', multiple: true },
      'no-restarts': { type: 'boolean' },
      'vector-out': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
}
