// Runs the cases of a difftest job (see ../../difftest_test.go) through the
// npm pac-resolver package and prints {id: {answer} | {error}} as JSON.
//
// Nothing here may reach the network: dns.lookup, which pac-resolver's
// dnsResolve, isResolvable and isInNet call, is replaced by the job's fixed
// table before pac-resolver loads, and myIpAddress, whose own version
// connects to a public address, is replaced through the sandbox option.
import dns from 'node:dns';
import fs from 'node:fs';
import net from 'node:net';
import { syncBuiltinESMExports } from 'node:module';

const job = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));

// node's lookup hands back an address literal as it is, whatever family
// was asked for; the replacement does the same, and answers the rest from
// the table alone.
dns.lookup = function lookup(host, options, callback) {
  if (typeof options === 'function') {
    callback = options;
    options = {};
  }
  if (typeof options === 'number') {
    options = { family: options };
  }
  const literal = net.isIP(host);
  if (literal) {
    process.nextTick(callback, null, host, literal);
    return;
  }
  const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : options.family || 0;
  const addrs = (job.dns[String(host).toLowerCase()] || []).filter((a) => family === 0 || net.isIP(a) === family);
  if (addrs.length === 0) {
    const err = new Error(`getaddrinfo ENOTFOUND ${host}`);
    err.code = 'ENOTFOUND';
    process.nextTick(callback, err);
    return;
  }
  if (options.all) {
    process.nextTick(callback, null, addrs.map((a) => ({ address: a, family: net.isIP(a) })));
    return;
  }
  process.nextTick(callback, null, addrs[0], net.isIP(addrs[0]));
};
syncBuiltinESMExports();

// The clock: pac-resolver's time helpers run in node and read the global
// Date, so a Date whose no-argument form is the case's instant fixes them.
const RealDate = Date;
let now = 0;
globalThis.Date = class FixedDate extends RealDate {
  constructor(...args) {
    if (args.length === 0) {
      super(now);
    } else {
      super(...args);
    }
  }
  static now() {
    return now;
  }
};

const { createPacResolver } = await import('pac-resolver');
const { QuickJS } = await import('quickjs-wasi');

const results = {};
for (const c of job.cases) {
  now = c.clock;
  const vm = await QuickJS.create();
  try {
    const findProxy = createPacResolver(vm, c.source, {
      sandbox: {
        myIpAddress: () => c.myip,
        alert: (msg) => process.stderr.write(`alert: ${msg}\n`),
      },
    });
    results[c.id] = { answer: String(await findProxy(c.url, c.host)) };
  } catch (err) {
    results[c.id] = { error: String(err && err.message ? err.message : err) };
  } finally {
    vm.dispose();
  }
}
process.stdout.write(JSON.stringify(results));
