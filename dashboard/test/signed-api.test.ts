import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DashboardServer, startDashboardServer } from '../server/dashboard-server.js';
import { signedApiForwarder } from '../server/signed-api.js';
import { apiUrlFromStack, StackLookupError } from '../server/stack-outputs.js';
import { staticAssets } from '../server/static-assets.js';
import { type StaticCredentials, startVerifyingApi } from './sigv4-verifier.js';

// The SDK's notice that it will need Node 22 in 2027 is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const REGION = 'eu-west-1';
/** Static test credentials: the verifier knows them, nothing else does. */
const CREDENTIALS: StaticCredentials = {
  accessKeyId: 'AKIDEXAMPLETEST0001',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
};
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

let verifier: Awaited<ReturnType<typeof startVerifyingApi>>;
let assetsDir: string;
const servers: DashboardServer[] = [];

async function dashboardFor(credentials: StaticCredentials, apiUrl = verifier.url): Promise<DashboardServer> {
  const server = await startDashboardServer({
    port: 0,
    forward: signedApiForwarder({ apiUrl, region: REGION, credentials }),
    assets: staticAssets(assetsDir),
  });
  servers.push(server);
  return server;
}

/** A raw GET (fetch cannot set Host), answering status, headers and body text. */
function get(url: string, headers: Record<string, string> = {}, method = 'GET') {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: string }>(
    (resolve, reject) => {
      const outgoing = httpRequest(url, { method, headers }, (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          body += chunk;
        });
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body }),
        );
      });
      outgoing.on('error', reject);
      outgoing.end();
    },
  );
}

beforeAll(async () => {
  verifier = await startVerifyingApi({ credentials: CREDENTIALS, region: REGION });
  assetsDir = mkdtempSync(join(tmpdir(), 'dashboard-assets-'));
  mkdirSync(join(assetsDir, 'assets'));
  writeFileSync(join(assetsDir, 'index.html'), '<!doctype html><title>fleet</title>');
  writeFileSync(join(assetsDir, 'assets', 'index-abc.js'), 'console.log(1)');
});

afterAll(async () => {
  for (const server of servers) await server.stop();
  await verifier?.stop();
  rmSync(assetsDir, { recursive: true, force: true });
});

describe('the dashboard server of a deployed stage', () => {
  it('forwards a device listing with a SigV4 signature that the SDK signer recomputes identically', async () => {
    // Arrange
    const dashboard = await dashboardFor(CREDENTIALS);
    const before = verifier.seen.length;

    // Act
    const answer = await get(`${dashboard.url}/devices?status=connected&limit=5`);

    // Assert
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({ items: [], path: '/devices' });
    const seen = verifier.seen.slice(before);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({
      method: 'GET',
      path: '/devices',
      query: { status: 'connected', limit: '5' },
      verdict: 'valid',
    });
    expect(seen[0]?.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLETEST0001\/\d{8}\/eu-west-1\/execute-api\/aws4_request, /,
    );
  });

  it('signs encoded device ids, cursors and temporary credentials correctly', async () => {
    // Arrange
    const temporary = { ...CREDENTIALS, sessionToken: 'FwoGZXIvYXdzEXAMPLETOKEN//+=' };
    const dashboard = await dashboardFor(temporary);
    const before = verifier.seen.length;
    const deviceId = "pump 7/ä (north)!'*";

    // Act
    const answer = await get(
      `${dashboard.url}/devices/${encodeURIComponent(deviceId)}/events?limit=2&cursor=a%2Bb%3D%3D`,
    );

    // Assert
    expect(answer.status).toBe(200);
    const [seen] = verifier.seen.slice(before);
    expect(seen?.verdict).toBe('valid');
    expect(decodeURIComponent(seen?.path.split('/')[2] ?? '')).toBe(deviceId);
    expect(seen?.query).toEqual({ limit: '2', cursor: 'a+b==' });
    expect(seen?.headers['x-amz-security-token']).toBe(temporary.sessionToken);
  });

  it('passes on the API’s refusal when the signature is made with the wrong secret', async () => {
    // Arrange
    const dashboard = await dashboardFor({ ...CREDENTIALS, secretAccessKey: 'not-the-secret' });
    const before = verifier.seen.length;

    // Act
    const answer = await get(`${dashboard.url}/alerts?limit=25`);

    // Assert
    expect(answer.status).toBe(403);
    expect(verifier.seen.slice(before).map((seen) => seen.verdict)).toEqual(['signature does not match']);
  });

  it('forwards nothing but the API’s GET routes, and only for requests addressed to its loopback address', async () => {
    // Arrange
    const dashboard = await dashboardFor(CREDENTIALS);
    const before = verifier.seen.length;

    // Act
    const post = await get(`${dashboard.url}/devices`, {}, 'POST');
    const other = await get(`${dashboard.url}/admin/keys`);
    const rebound = await get(`${dashboard.url}/devices?status=connected`, { host: 'evil.example:80' });
    const localhost = await get(`${dashboard.url}/alerts`, { host: `localhost:${dashboard.port}` });

    // Assert
    expect(post.status).toBe(405);
    expect(other.status).toBe(404);
    expect(rebound.status).toBe(421);
    expect(localhost.status).toBe(200);
    expect(verifier.seen.slice(before).map((seen) => seen.path)).toEqual(['/alerts']);
  });

  it('serves the built page at / and its assets, with a content security policy', async () => {
    // Arrange
    const dashboard = await dashboardFor(CREDENTIALS);

    // Act
    const page = await get(`${dashboard.url}/`);
    const script = await get(`${dashboard.url}/assets/index-abc.js`);
    const traversal = await get(`${dashboard.url}/assets/../../etc/passwd`);

    // Assert
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['content-security-policy']).toContain("default-src 'self'");
    expect(page.body).toContain('<title>fleet</title>');
    expect(script.status).toBe(200);
    expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(traversal.status).toBe(404);
  });

  it('answers 502 with a reason when the API cannot be reached', async () => {
    // Arrange: a port that was free a moment ago
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const dashboard = await dashboardFor(CREDENTIALS, `http://127.0.0.1:${port}`);

    // Act
    const answer = await get(`${dashboard.url}/devices?status=connected`);

    // Assert
    expect(answer.status).toBe(502);
    expect(JSON.parse(answer.body).error).toMatch(/did not answer/);
  });
});

describe('npm run dashboard', () => {
  it('signs with the SDK default credential chain (here: the environment) and prints where it listens', async () => {
    // Arrange: env credentials only, no shared config files
    const empty = mkdtempSync(join(tmpdir(), 'dashboard-aws-'));
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'dashboard/server/cli.ts',
        '--api',
        verifier.url,
        '--region',
        REGION,
        '--port',
        '0',
      ],
      {
        cwd: ROOT,
        env: {
          PATH: process.env.PATH,
          AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
          AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
          AWS_CONFIG_FILE: join(empty, 'config'),
          AWS_SHARED_CREDENTIALS_FILE: join(empty, 'credentials'),
          AWS_EC2_METADATA_DISABLED: 'true',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no URL printed: ${output}`)), 30_000);
        const look = () => {
          const match = /open\s+(http:\/\/127\.0\.0\.1:\d+)\//.exec(output);
          if (match?.[1]) {
            clearTimeout(timer);
            resolve(match[1]);
          }
        };
        child.stdout.on('data', look);
        child.once('exit', () => reject(new Error(`exited early: ${output}`)));
      });
      const before = verifier.seen.length;

      // Act
      const answer = await get(`${url}/devices?status=disconnected`);

      // Assert
      expect(answer.status).toBe(200);
      expect(verifier.seen.slice(before).map((seen) => seen.verdict)).toEqual(['valid']);
    } finally {
      if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGTERM');
      expect(await exited).toBe(0);
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe('finding the API of a stage', () => {
  /** A CloudFormation stand-in on loopback that knows one stack. */
  async function startCloudFormation() {
    const bodies: string[] = [];
    const server = createServer((request, response) => {
      let body = '';
      request.setEncoding('utf8');
      request.on('data', (chunk: string) => {
        body += chunk;
      });
      request.on('end', () => {
        bodies.push(body);
        const name = new URLSearchParams(body).get('StackName');
        if (name === 'iot-presence-prod') {
          response.writeHead(200, { 'content-type': 'text/xml' });
          response.end(`<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/">
  <DescribeStacksResult><Stacks><member>
    <StackName>iot-presence-prod</StackName><StackStatus>UPDATE_COMPLETE</StackStatus>
    <CreationTime>2026-01-01T00:00:00Z</CreationTime>
    <Outputs>
      <member><OutputKey>AlertTopicArn</OutputKey><OutputValue>arn:aws:sns:eu-west-1:1:t</OutputValue></member>
      <member><OutputKey>HttpApiUrl</OutputKey><OutputValue>https://abc123.execute-api.eu-west-1.amazonaws.com</OutputValue></member>
    </Outputs>
  </member></Stacks></DescribeStacksResult>
  <ResponseMetadata><RequestId>1</RequestId></ResponseMetadata>
</DescribeStacksResponse>`);
        } else {
          response.writeHead(400, { 'content-type': 'text/xml' });
          response.end(`<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/">
  <Error><Type>Sender</Type><Code>ValidationError</Code><Message>Stack with id ${name} does not exist</Message></Error>
  <RequestId>2</RequestId>
</ErrorResponse>`);
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return {
      endpoint: `http://127.0.0.1:${port}`,
      bodies,
      stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  }

  it('reads the HttpApiUrl output of the stack iot-presence-<stage>, and names a missing stack', async () => {
    // Arrange
    const cloudFormation = await startCloudFormation();
    try {
      // Act
      const url = await apiUrlFromStack({
        stage: 'prod',
        region: REGION,
        credentials: CREDENTIALS,
        endpoint: cloudFormation.endpoint,
      });
      const missing = await apiUrlFromStack({
        stage: 'nope',
        region: REGION,
        credentials: CREDENTIALS,
        endpoint: cloudFormation.endpoint,
      }).catch((error: unknown) => error);

      // Assert
      expect(url).toBe('https://abc123.execute-api.eu-west-1.amazonaws.com');
      expect(new URLSearchParams(cloudFormation.bodies[0]).get('Action')).toBe('DescribeStacks');
      expect(missing).toBeInstanceOf(StackLookupError);
      expect((missing as Error).message).toMatch(/no stack iot-presence-nope in eu-west-1/);
    } finally {
      await cloudFormation.stop();
    }
  });
});
