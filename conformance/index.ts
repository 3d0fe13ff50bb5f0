// Programmatic entry of the conformance kit: run the suite from code (the
// broken-server self-test, other test frameworks) and render its report.
export { runSuite, type SuiteOptions, UsageError } from './engine/run-suite.js'
export type { CaseResult, CaseFailure, Verdict } from './engine/case-types.js'
export type { Report, Summary, Problem, RequirementRow, Outcome } from './report/report-types.js'
export type { TranscriptEntry } from './engine/transcript.js'
export type { Scenario } from './load/scenario-types.js'
export { loadScenarios, type LoadError, type LoadResult } from './load/vector-loader.js'
export { loadSpecIndex, parseSpec, type SpecIndex, type Requirement } from './load/spec-index.js'
export { parseKnownFailures, KnownFailuresError, type KnownFailure } from './engine/known-failures.js'
export { kitPaths } from './engine/paths.js'
export { testToken } from './engine/scope.js'
export { renderReport, main } from './cli.js'
