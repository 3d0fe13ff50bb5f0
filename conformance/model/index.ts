// The executable model of imwire v1 (an independent oracle, written from spec.md).

export type { Expectation, Violation } from './expectation.js'
export { ImwireModel, type ModelOptions, messageJson } from './model.js'
export { type ModelLimits, type Sym, sym, World } from './world.js'
