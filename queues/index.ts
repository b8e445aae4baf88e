/**
 * The contract between roles. Roles never import one another: they meet here, through queues and jobs
 * (jobs.ts, queue.ts), the one way every worker runs a job (processor.ts), the job schedulers (schedulers.ts),
 * the control messages (control.ts), the Redis state more than one role reads or writes (keys.ts), the
 * dashboard snapshot (dashboard.ts), export requests (exports.ts), guard-bot join requests (guard.ts) and which updates reach the verifier
 * (updates.ts). It builds on services/core (infrastructure) and on nothing else.
 */
export * from './control';
export * from './dashboard';
export * from './exports';
export * from './guard';
export * from './jobs';
export * from './keys';
export * from './processor';
export * from './queue';
export * from './schedulers';
export * from './updates';
