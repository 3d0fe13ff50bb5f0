#!/usr/bin/env node
// `imwire` command: dispatches to one module per subcommand, loaded lazily so
// that `imwire decode` never loads the server or the database driver.
import { realpathSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

type Command = (argv: string[]) => Promise<number>

const commands: Record<string, { summary: string; load: () => Promise<Command> }> = {
  serve: { summary: 'run the reference server', load: async () => (await import('../server/cli.js')).main },
  conformance: {
    summary: 'run the conformance suite against a server',
    load: async () => (await import('../../conformance/cli.js')).main,
  },
  decode: { summary: 'decode hex or binary frames to JSON', load: async () => (await import('./decode.js')).main },
  vectors: { summary: 'vector tools: `vectors lint`', load: async () => (await import('./vectors.js')).main },
  'client-adapter': {
    summary: 'the reference client, driven over stdin/stdout by `conformance client`',
    load: async () => (await import('./client-adapter.js')).main,
  },
}

function usage(): string {
  const lines = ['usage: imwire <command> [options]', '', 'commands:']
  for (const [name, c] of Object.entries(commands)) lines.push(`  ${name.padEnd(12)} ${c.summary}`)
  lines.push('', 'Run `imwire <command> --help` for the options of a command; `imwire --version` prints the version.')
  return lines.join('\n')
}

export async function run(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${usage()}\n`)
    return name === undefined ? 2 : 0
  }
  if (name === '--version' || name === '-V') {
    // The conformance kit reads the same package.json version.
    const { kitPaths, kitVersion } = await import('../../conformance/engine/paths.js')
    process.stdout.write(`imwire ${kitVersion(kitPaths().root)}\n`)
    return 0
  }
  const cmd = commands[name]
  if (cmd === undefined) {
    process.stderr.write(`imwire: unknown command '${name}'\n${usage()}\n`)
    return 2
  }
  return (await cmd.load())(rest)
}

const self = fileURLToPath(import.meta.url)
if (process.argv[1] !== undefined && realpathSync(process.argv[1]) === self) {
  run(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code
    },
    (err: unknown) => {
      process.stderr.write(`imwire: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
      process.exitCode = 2
    },
  )
}
