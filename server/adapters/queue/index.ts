/** JobQueue adapters: `container.ts` picks InProcessQueue (embedded) or BullMqQueue (REDIS_URL set). */
export { InProcessQueue } from './in-process-queue.js'
export { BullMqQueue } from './bullmq-queue.js'
export type { BullMqQueueOptions } from './bullmq-queue.js'
