// Tests that spawn the CLI need dist/. Build when a source file is newer than
// the built CLI, under a lock directory so parallel test files do not build
// over each other. (npm test builds before tap, so there it is a no-op.)
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { kitPaths } from '../engine/paths.js'

function newestSource(dir: string, skip: (p: string) => boolean): number {
  let newest = 0
  for (const name of readdirSync(dir)) {
    const p = join(dir, name)
    if (skip(p)) continue
    const st = statSync(p)
    if (st.isDirectory()) newest = Math.max(newest, newestSource(p, skip))
    else if (name.endsWith('.ts')) newest = Math.max(newest, st.mtimeMs)
  }
  return newest
}

export async function ensureBuilt(): Promise<string> {
  const paths = kitPaths()
  const cli = paths.bundledCli
  const lock = join(paths.root, '.tap', 'build.lock')
  const skip = (p: string) => p.includes(`${join('conformance', 'test')}`) || p.endsWith('node_modules')
  const stale = () =>
    !existsSync(cli) ||
    newestSource(join(paths.root, 'src'), skip) > statSync(cli).mtimeMs ||
    newestSource(join(paths.root, 'conformance'), skip) > statSync(cli).mtimeMs
  if (!stale()) return cli
  mkdirSync(join(paths.root, '.tap'), { recursive: true })
  const deadline = Date.now() + 180_000
  for (;;) {
    try {
      mkdirSync(lock)
      break
    } catch {
      if (existsSync(lock) && Date.now() - statSync(lock).mtimeMs > 300_000)
        rmSync(lock, { recursive: true, force: true })
      if (Date.now() > deadline) throw new Error('timed out waiting for another build')
      await new Promise((r) => setTimeout(r, 500))
    }
  }
  try {
    // Another file may have built while we waited.
    if (stale()) {
      const res = spawnSync('npm', ['run', '-s', 'build'], { cwd: paths.root, encoding: 'utf8' })
      // tsc still emits when other areas have type errors; what matters is the CLI.
      if (!existsSync(cli)) throw new Error(`build failed:\n${res.stdout}\n${res.stderr}`)
    }
  } finally {
    rmSync(lock, { recursive: true, force: true })
  }
  return cli
}
