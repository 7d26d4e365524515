// Test infrastructure preloaded into each function process (--import), not part of any artifact. The SNS/SQS
// emulator names its queues http://sqs.<region>.localhost:<port>/..., and the SQS client sends each request to its
// queue URL's host, as it must on AWS. RFC 6761 reserves *.localhost for loopback, and most resolvers answer it, but
// this machine's does not: answer it here.
import dns from 'node:dns';

const lookup = dns.lookup;
dns.lookup = function lookupLocalhost(hostname, options, callback) {
  if (typeof hostname !== 'string' || !hostname.endsWith('.localhost')) {
    return lookup.call(this, hostname, options, callback);
  }
  const done = typeof options === 'function' ? options : callback;
  const all = typeof options === 'object' && options !== null && options.all === true;
  process.nextTick(() =>
    all ? done(null, [{ address: '127.0.0.1', family: 4 }]) : done(null, '127.0.0.1', 4),
  );
  return {};
};
