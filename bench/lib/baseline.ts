// Another build of the server to compare with in the same run
// (`--baseline-ref REF`): the tree of REF is exported with `git archive` into
// a directory under the system's temp directory, compiled there with this
// checkout's node_modules, and reused by later runs of the same commit.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, rmSync, symlinkSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

/** The CLI entry point (dist/src/cli/main.js) of REF's build. */
export function baselineCli(root: string, ref: string): string {
  const sha = execFileSync('git', ['rev-parse', '--short=12', `${ref}^{commit}`], { cwd: root })
    .toString()
    .trim()
  const dir = path.join(os.tmpdir(), `imwire-baseline-${sha}`)
  const cli = path.join(dir, 'dist/src/cli/main.js')
  if (existsSync(cli)) return cli
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  process.stderr.write(`building baseline ${sha} in ${dir}\n`)
  const tar = execFileSync('git', ['archive', '--format=tar', sha], { cwd: root, maxBuffer: 1 << 30 })
  execFileSync('tar', ['-x', '-C', dir], { input: tar })
  symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'))
  execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
    cwd: dir,
    stdio: 'inherit',
  })
  return cli
}
