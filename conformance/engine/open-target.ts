// Phase 2 of a run: the server under test — fixed addresses (--target), a
// command that prints its listening line (--spawn), or the bundled reference
// server started from dist/.
import { existsSync } from 'node:fs'
import { UsageError } from '../../src/cli/usage-error.js'
import { FixedTarget, parseTarget, SpawnedTarget, TERM_GRACE_MS, type Target } from './target.js'

/** How long a spawned server may take to print its listening line (× time scale). */
const SPAWN_TIMEOUT_MS = 20_000

export interface TargetOptions {
  targets?: string[]
  spawn?: string
  serverLog?: string
}

export async function openTarget(
  o: TargetOptions,
  bundledCli: string,
  secret: string,
  timeScale: number,
  runStarted: number,
): Promise<Target> {
  if (o.targets?.length && o.spawn) throw new UsageError('use either --target or --spawn, not both')
  if (o.targets?.length) {
    const a = {}
    for (const t of o.targets) Object.assign(a, parseTarget(t))
    return new FixedTarget(a)
  }
  const common = {
    secret,
    startTimeoutMs: SPAWN_TIMEOUT_MS * timeScale,
    termGraceMs: TERM_GRACE_MS * timeScale,
    runStarted,
    ...(o.serverLog ? { logFile: o.serverLog } : {}),
  }
  if (o.spawn) return SpawnedTarget.start({ ...common, command: o.spawn, mode: 'spawn' })
  if (!existsSync(bundledCli))
    throw new UsageError(
      `the bundled reference server is not built (${bundledCli} is missing): run \`npm run build\`, or use --target / --spawn`,
    )
  const argv = [
    process.execPath,
    bundledCli,
    'serve',
    '--tcp',
    '127.0.0.1:0',
    '--ws',
    '127.0.0.1:0/imwire',
    '--data-dir',
    '{datadir}',
    '--token-secret',
    '{secret}',
  ]
  return SpawnedTarget.start({ ...common, command: argv, mode: 'bundled' })
}
