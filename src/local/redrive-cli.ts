import { REDRIVE_PATH } from './http-server.js';

// `npm run redrive`: asks the running local stack (`npm start`) to feed its dead-lettered events back through the
// ingest functions, and to reconcile again the devices of its parked stream batches. Deployed, the same is `npx serverless invoke --function redrive --stage <stage>`.
const port = Number(process.env.HTTP_PORT ?? 3000);
try {
  const response = await fetch(`http://127.0.0.1:${port}${REDRIVE_PATH}`, { method: 'POST' });
  const body = (await response.json()) as { redriven?: number; reconciled?: number; error?: string };
  if (!response.ok) throw new Error(body.error ?? `HTTP ${response.status}`);
  process.stdout.write(
    `redriven ${body.redriven ?? 0} dead-lettered event(s), reconciled ${body.reconciled ?? 0} parked stream batch(es)\n`,
  );
} catch (error) {
  process.stderr.write(
    `redrive failed: ${(error as Error).message}. Is \`npm start\` running on port ${port}?\n`,
  );
  process.exit(1);
}
