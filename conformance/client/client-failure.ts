// How a client step ends a case early: a judgement against the client, or a
// command the adapter cannot do (the case is skipped).

/** A judgement against the client. */
export class Failure extends Error {}

/** The adapter cannot do what the scenario needs. */
export class Unsupported extends Error {}
