import { measureEndToEnd } from './end-to-end.js';
import { startBenchStack } from './stack.js';

process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
const stack = await startBenchStack();
const byTable = new Map<string, number>();
try {
  const { DynamoDBDocumentClient } = await import('@aws-sdk/lib-dynamodb');
  const send = DynamoDBDocumentClient.prototype.send;
  (DynamoDBDocumentClient.prototype as any).send = async function (cmd: any, ...rest: any[]) {
    const out = await (send as any).call(this, cmd, ...rest);
    const cc = out?.ConsumedCapacity;
    const list = Array.isArray(cc) ? cc : cc ? [cc] : [];
    const name = cmd.constructor.name;
    for (const c of list) {
      const t = `${name} ${String(c.TableName).replace(/^.*?-/, '')}`;
      byTable.set(`${t} table`, (byTable.get(`${t} table`) ?? 0) + (c.Table?.CapacityUnits ?? 0));
      for (const [idx, v] of Object.entries({
        ...(c.GlobalSecondaryIndexes ?? {}),
        ...(c.LocalSecondaryIndexes ?? {}),
      }))
        byTable.set(`${t} ${idx}`, (byTable.get(`${t} ${idx}`) ?? 0) + ((v as any).CapacityUnits ?? 0));
    }
    return out;
  };
  const f = await measureEndToEnd(stack, {
    devices: 10,
    hours: 6,
    profile: 'flappy',
    seed: Number(process.argv[2] ?? 5),
  });
  console.log(JSON.stringify({ ...f, requests: undefined }));
  console.log(JSON.stringify(f.requests));
  for (const [k, v] of [...byTable].sort()) console.log(k.padEnd(60), (v / f.lines).toFixed(3));
} finally {
  await stack.stop();
}
