// Public surface of the simulator for tests and scripts.
export { startSimulator, type RunningSimulator, type SimulatorOptions } from './server';
export {
  SimClient,
  SimControlError,
  type SimBot,
  type SimChat,
  type SimEphemeralMessage,
  type SimJoinQuery,
  type SimJoinQuerySettings,
  type SimMemberState,
  type SimUserView,
} from './client';
export { World, type BotRuntime } from './world';
export type { FaultRuleInput, FaultKind } from './faults';
export type { LimitSettings } from './limits';
export type { CallRecord, CallCounters } from './call-log';
export * from './types';
