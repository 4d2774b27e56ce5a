/**
 * `npm start`: brings up the embedded local default (DynamoDB Local, the table, a local key, a
 * hybrid cache over them), proves it works (health check, a few writes, reads and an expiry),
 * prints where everything is and what to try next, then keeps DynamoDB Local running until
 * Ctrl-C. With `--once`, `CI=true` or no terminal on stdin it does the run and exits 0.
 */
import { relative } from 'node:path';
import { parseArgs } from 'node:util';
import { createCache } from '../createCache';
import { silentLogger } from '../logger';
import { formatError, reportError } from '../cli/errors';
import { startLocalStack, type LocalStack } from './localStack';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const say = (line = '') => process.stdout.write(`${line}\n`);
const warn = (line: string) => process.stderr.write(`warning: ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function parseOptions(): { once: boolean; port: number | undefined; verbose: boolean } {
  const { values } = parseArgs({
    options: { once: { type: 'boolean' }, port: { type: 'string' }, verbose: { type: 'boolean', short: 'v' } },
    strict: true,
  });
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65_535)) throw new Error(`--port must be a port number, got ${values.port}`);
  const once = values.once === true || process.env.CI === 'true' || process.stdin.isTTY !== true;
  return { once, port, verbose: values.verbose === true };
}

/** Health, then a write, a read, a short-lived entry that expires, and the stats. */
async function demonstrate(stack: LocalStack): Promise<void> {
  // Library log lines would repeat, as JSON, the warnings printed here in words.
  const vault = await createCache({ configFile: stack.configPath, logger: silentLogger });
  try {
    // The env-key warning was already given, with what to do about it.
    for (const w of vault.warnings) if (!(stack.key.provider === 'env' && w.includes(stack.key.variable))) warn(w);
    const health = await vault.backend.healthCheck();
    say(`health: ${health.healthy ? 'ok' : 'PROBLEMS'} (${Math.round(health.latencyMs)} ms)`);
    for (const c of health.checks) say(`  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}${c.detail ? `: ${c.detail}` : ''}`);
    if (!health.healthy) throw new Error('the local cache failed its health check (details above)');

    const demo = vault.cache.namespace('demo');
    const previous = await demo.lookup('greeting');
    if (previous.found) say(`demo/greeting from the previous run is still there (persisted under .cachevault): ${JSON.stringify(previous.value)}`);
    await demo.set('greeting', { hello: 'world', at: new Date().toISOString() }, { ttlMs: 3_600_000 });
    await demo.set('short-lived', 'gone soon', { ttlMs: 1_000 });
    const greeting = await demo.get('greeting');
    const before = await demo.get('short-lived');
    await sleep(1_200);
    const after = await demo.get('short-lived');
    say('');
    say(`wrote demo/greeting and read back ${JSON.stringify(greeting)}`);
    say(`demo/short-lived (1 s TTL): ${JSON.stringify(before)} before, ${after === undefined ? 'a miss' : JSON.stringify(after)} after 1.2 s`);
    if (after !== undefined) throw new Error('an entry outlived its TTL');
    const stats = vault.cache.stats();
    say(`stats: ${stats.hits} hits, ${stats.misses} misses, ${stats.sets} sets, ${stats.bytesWritten} bytes written, encryption ${vault.encryption.algorithm}`);
    if (vault.keys) {
      const status = vault.keys.status();
      say(`keys: active ${status.activeKeyId ?? '(none yet)'}; versions ${status.versions.map((v) => `${v.id} (${v.state})`).join(', ') || 'none'}`);
    }
  } finally {
    await vault.close();
  }
}

function printWhere(stack: LocalStack, once: boolean): void {
  const rel = (p: string) => relative(process.cwd(), p) || '.';
  say('');
  say('cachevault local stack');
  if (stack.dynamodb) {
    say(`  DynamoDB Local   ${stack.dynamodb.endpoint} (pid ${stack.dynamodb.pid}), data in ${rel(stack.dbPath)}`);
    say(`  table            ${stack.tableName} (${stack.tableCreated ? 'created now' : 'already there'}; same schema as the CDK stack)`);
  } else {
    say('  DynamoDB Local   not running (no Java here): the cache runs on its memory and file tiers');
  }
  say(`  file cache       ${rel(stack.cacheDir)}`);
  say(`  key manifest     ${rel(stack.manifestPath)} (wrapped keys only)`);
  say(`  audit log        ${rel(stack.auditPath)}`);
  if (stack.key.provider === 'keyring') {
    say(`  root key         OS keyring (service ${stack.key.service}, account ${stack.key.account})`);
  } else {
    say(`  root key         env key in ${rel(stack.key.file)} (no OS keyring here)`);
  }
  say(`  config           ${rel(stack.configPath)}`);
  say('');
  say('Try it (in another terminal, from this directory):');
  say(`  export CACHEVAULT_CONFIG=${stack.configPath}`);
  if (stack.key.provider === 'env') say(`  export ${stack.key.variable}=$(cat ${rel(stack.key.file)})`);
  say('  npx cachevault status');
  say('  npx cachevault set greeting \'{"hello":"world"}\' --ttl 60000');
  say('  npx cachevault get greeting');
  say('  npx cachevault health');
  say('  npx cachevault encryption rotate');
  say('');
  if (!stack.dynamodb) say('Nothing keeps running: without DynamoDB Local the stack is just files under .cachevault.');
  else say(once ? 'Run once (--once, CI=true or no terminal): stopping DynamoDB Local.' : 'DynamoDB Local keeps running; press Ctrl-C to stop it.');
}

async function main(): Promise<number> {
  const options = parseOptions();
  say('Starting the cachevault local stack (DynamoDB Local takes a few seconds)...');
  const stack = await startLocalStack({ port: options.port });
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= stack.stop());
  try {
    if (stack.degradedReason) warn(`DynamoDB Local cannot run here, so the local stack starts without its DynamoDB tier (memory + file only). ${stack.degradedReason}`);
    if (stack.key.provider === 'env') {
      warn(
        `No OS keyring is available here (${stack.key.keyringProblem}); the root key is ${stack.key.created ? 'a new' : 'the'} env key in ${stack.key.file} (owner-only). ` +
          'Anyone who can read that file can read this cache: use the keyring or KMS for real data.',
      );
    }
    await demonstrate(stack);
    printWhere(stack, options.once);
  } catch (err) {
    await stop();
    throw err;
  }
  if (options.once || !stack.dynamodb) {
    await stop();
    return 0;
  }
  await new Promise<void>((resolveSignal) => {
    const onSignal = () => resolveSignal();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
  say('\nStopping DynamoDB Local...');
  await stop();
  say('Stopped. Data is kept in .cachevault/local; `npm start` brings it back.');
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const report = reportError(err);
    process.stderr.write(formatError(report, err, process.argv.includes('--verbose') || process.argv.includes('-v')));
    process.exitCode = report.exitCode === 0 ? 1 : report.exitCode;
  },
);
