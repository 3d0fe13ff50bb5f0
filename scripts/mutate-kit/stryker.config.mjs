// Stryker configuration of `npm run mutate:kit` (see docs/mutation-testing.md).
// The conformance kit is the only test: the command runner runs run-kit.mjs
// against the server built from the mutated sandbox; unit tests play no part.
export default {
  testRunner: 'command',
  commandRunner: { command: 'sh scripts/mutate-kit/run-kit.sh' },
  // One build per sandbox: every mutant is compiled in (mutant switching)
  // and chosen at run time by __STRYKER_ACTIVE_MUTANT__, which the spawned
  // server (and its SQLite worker thread) inherit.
  buildCommand: 'npx tsc -p tsconfig.build.json',
  mutate: ['src/session/**/*.ts', 'src/server/store/**/*.ts', '!**/*.test.ts'],
  plugins: ['./scripts/mutate-kit/sample-reporter.mjs'],
  reporters: ['kit-sample', 'progress-append-only', 'json'],
  jsonReporter: { fileName: 'reports/mutation-kit/stryker.json' },
  coverageAnalysis: 'off',
  concurrency: Number(process.env.MUTATE_KIT_CONCURRENCY ?? 2),
  // A kit run takes ~20 s; a mutant that hangs the server is stopped by the
  // kit's own case timeouts well before this.
  timeoutMS: 120_000,
  timeoutFactor: 2,
  ignorePatterns: ['dist', 'notes', 'bench', 'reports', '.imwire-data', '.tap', 'coverage'],
  tempDirName: '.stryker-tmp',
  cleanTempDir: true,
}
