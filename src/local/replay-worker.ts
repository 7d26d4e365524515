/**
 * A worker thread of the replay: runs its groups of devices, each in its deployment rebuilt here on a DynamoDB of
 * its own (the SNS/SQS emulator stays in the main thread, over HTTP), and posts their results.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { quietForLocalRun } from '../adapters/observability.js';
import { prepareGroup, type WorkerJob, type WorkerReply } from './replay-group.js';
import { inProcessDeploymentFrom } from './services/local-aws.js';

const job = workerData as WorkerJob;
// A local run, whoever started the replay: the functions log at WARN and print no metrics.
quietForLocalRun({ logLevel: 'WARN' });

async function run(): Promise<WorkerReply> {
  try {
    const prepared = [];
    for (const group of job.groups) {
      const aws = await inProcessDeploymentFrom(group.deployment);
      prepared.push(await prepareGroup(aws, group.lines, job.firstAt, job.options));
    }
    return { results: await Promise.all(prepared.map((group) => group.run())) };
  } catch (error) {
    return { error: error instanceof Error ? (error.stack ?? error.message) : String(error) };
  }
}

parentPort?.postMessage(await run());
