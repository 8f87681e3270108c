export type { Schedule, ReadonlyFloat64Array } from './schedule.js';
export { scheduleFromBetas } from './schedule.js';
export { linearSchedule, type LinearScheduleOptions } from './linear.js';
export { cosineSchedule, type CosineScheduleOptions } from './cosine.js';
export { respace, keptTimesteps, type RespaceSpec, type Respaced } from './respace.js';
