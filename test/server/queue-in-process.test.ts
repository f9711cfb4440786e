/** The JobQueue contract on the embedded, in-memory queue. */
import t from 'tap'
import { InProcessQueue } from '../../server/adapters/queue/index.js'
import { queueContract } from './queue.contract.js'

queueContract(t, async () => new InProcessQueue())
