// The executable model of imwire v1 (an independent oracle, written from spec.md).
export { ImwireModel, type ModelOptions, messageJson } from './model.js'
export type { Expectation, Violation } from './expectation.js'
export { World, type ModelLimits, type Sym, sym } from './world.js'
