// Tests that start servers as processes start them from built JavaScript
// (dist/), never through a TypeScript loader: a loader compiling on every
// start is what made startup deadlines miss on a loaded machine.
//
// `npm test` builds the whole tree (`npm run build:test`) before tap runs, so
// ensureBuilt() is a no-op there. Run alone (`npx tap test/x.test.ts`) with
// sources newer than dist/, it builds once, under a lock so parallel test
// files do not build over each other.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { packageRoot } from '../../src/package-root.js'

export const ROOT = packageRoot()

/** dist/ path of a source file given relative to the package root (`test/crash/faulty-serve.ts`). */
export function builtPath(source: string): string {
  return join(ROOT, 'dist', source.replace(/\.ts$/, '.js'))
}

function newestSource(dir: string): number {
  let newest = 0
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules') continue
    const p = join(dir, name)
    const st = statSync(p)
    if (st.isDirectory()) newest = Math.max(newest, newestSource(p))
    else if (name.endsWith('.ts')) newest = Math.max(newest, st.mtimeMs)
  }
  return newest
}

/** Builds dist/ (whole tree) when an entry is missing or a source is newer; returns the entries' dist paths. */
export async function ensureBuilt(...sources: string[]): Promise<string[]> {
  const entries = ['src/cli/main.ts', ...sources].map(builtPath)
  const stale = () => {
    if (!entries.every((e) => existsSync(e))) return true
    const built = Math.min(...entries.map((e) => statSync(e).mtimeMs))
    return ['src', 'conformance', 'test'].some((d) => newestSource(join(ROOT, d)) > built)
  }
  if (stale()) {
    mkdirSync(join(ROOT, '.tap'), { recursive: true })
    const lock = join(ROOT, '.tap', 'build.lock')
    const deadline = Date.now() + 600_000
    for (;;) {
      try {
        mkdirSync(lock)
        break
      } catch {
        const held = statSync(lock, { throwIfNoEntry: false })
        if (held !== undefined && Date.now() - held.mtimeMs > 600_000) rmSync(lock, { recursive: true, force: true })
        if (Date.now() > deadline) throw new Error('timed out waiting for another build')
        await new Promise((r) => setTimeout(r, 500))
      }
    }
    try {
      // Another file may have built while we waited.
      if (stale()) {
        const res = spawnSync('npm', ['run', '-s', 'build:test'], { cwd: ROOT, encoding: 'utf8' })
        // tsc emits despite type errors elsewhere; what matters here is the entries.
        const missing = entries.filter((e) => !existsSync(e))
        if (missing.length > 0)
          throw new Error(`build produced no ${missing.join(', ')}:\n${res.stdout}\n${res.stderr}`)
      }
    } finally {
      rmSync(lock, { recursive: true, force: true })
    }
  }
  return entries.slice(1)
}
