export { InProcessChangeBus } from './in-process-bus.js'
export { RedisChangeBus, type RedisChangeBusOptions } from './redis-bus.js'
