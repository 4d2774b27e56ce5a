/**
 * `npm run bench -- lambda`: bundles each operations Lambda exactly as NodejsFunction does
 * (esbuild, minified, CommonJS, node24 target, the runtime's AWS SDK left external) and, beside
 * it, the same handler with the AWS SDK v3 clients it uses bundled in. Reports bundle sizes and
 * cold import time: a fresh `node` process requiring the bundle, median of several runs.
 *
 * Targets (from the infrastructure issue): each shipped bundle < 1 MB minified, cold import
 * < 300 ms on this machine. The runtime-SDK bundle resolves `@aws-sdk/*` from node_modules here,
 * as it would from the Lambda runtime, so its import time includes loading those SDK clients.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { FUNCTION_ENTRIES, FUNCTION_ESBUILD_TARGET, FUNCTION_EXTERNAL_MODULES, functionEntry, type FunctionName } from '../../lib/constructs/functionBundling';
import type { BenchContext, BenchSuite, CaseResult, RatioResult, SuiteResult } from '../harness';

const MB = 1024 * 1024;
const SIZE_TARGET_BYTES = 1 * MB;
const IMPORT_TARGET_MS = 300;
/** Inside the repository (gitignored) so the runtime-SDK bundles resolve `@aws-sdk/*` from node_modules. */
const OUT_DIR = join(__dirname, '..', 'results', 'lambda-bundles');

type Variant = 'runtime-sdk' | 'bundled-sdk';

async function bundle(name: FunctionName, variant: Variant): Promise<string> {
  const outfile = join(OUT_DIR, variant, `${name}.js`);
  await build({
    entryPoints: [functionEntry(name)],
    outfile,
    bundle: true,
    minify: true,
    sourcemap: false,
    platform: 'node',
    format: 'cjs',
    target: FUNCTION_ESBUILD_TARGET,
    // bundled-sdk keeps out only what never loads in Lambda; the SDK clients go in whole.
    external: variant === 'runtime-sdk' ? [...FUNCTION_EXTERNAL_MODULES] : FUNCTION_EXTERNAL_MODULES.filter((m) => !m.startsWith('@aws-sdk')),
    logLevel: 'silent',
  });
  return outfile;
}

/** Milliseconds a fresh node process spends in `require(file)`. */
function coldImportMs(file: string): number {
  const script = `const t=process.hrtime.bigint();require(${JSON.stringify(file)});process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6))`;
  const out = execFileSync(process.execPath, ['-e', script], {
    encoding: 'utf8',
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', AWS_REGION: 'us-east-1' },
  });
  return Number(out);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const suite: BenchSuite = {
  name: 'lambda',
  description: 'Lambda bundle sizes and cold import times, runtime SDK vs bundled SDK',
  async run(ctx: BenchContext): Promise<SuiteResult> {
    const runs = ctx.quick ? 3 : 7;
    rmSync(OUT_DIR, { recursive: true, force: true });
    mkdirSync(OUT_DIR, { recursive: true });
    const cases: CaseResult[] = [];
    const ratios: RatioResult[] = [];
    const notes: string[] = [];
    const names = Object.keys(FUNCTION_ENTRIES) as FunctionName[];
    const files = new Map<string, string>();
    for (const name of names) {
      for (const variant of ['runtime-sdk', 'bundled-sdk'] as const) {
        ctx.progress(`bundling ${name} (${variant})`);
        files.set(`${name}:${variant}`, await bundle(name, variant));
      }
    }
    // Interleave the variants run by run, so drift on a shared machine hits both alike.
    const times = new Map<string, number[]>();
    for (let r = 0; r < runs; r++) {
      for (const [key, file] of files) {
        ctx.progress(`cold import ${key} (${r + 1}/${runs})`);
        times.set(key, [...(times.get(key) ?? []), coldImportMs(file)]);
      }
    }
    for (const name of names) {
      const result: Record<Variant, { bytes: number; ms: number }> = {} as Record<Variant, { bytes: number; ms: number }>;
      for (const variant of ['runtime-sdk', 'bundled-sdk'] as const) {
        const key = `${name}:${variant}`;
        const bytes = statSync(files.get(key) as string).size;
        const ms = median(times.get(key) ?? []);
        result[variant] = { bytes, ms };
        cases.push({
          name: `${name} ${variant}`,
          ops: runs,
          seconds: (ms * runs) / 1000,
          opsPerSec: 1000 / ms,
          extra: { bundleKB: Math.round(bytes / 1024), coldImportMs: Number(ms.toFixed(1)) },
        });
      }
      const shipped = result['runtime-sdk'];
      const full = result['bundled-sdk'];
      ratios.push({ name: `${name}: bundled-sdk size / runtime-sdk size`, numerator: `${name} bundled-sdk`, denominator: `${name} runtime-sdk`, ratio: full.bytes / shipped.bytes });
      ratios.push({ name: `${name}: bundled-sdk import / runtime-sdk import`, numerator: `${name} bundled-sdk`, denominator: `${name} runtime-sdk`, ratio: full.ms / shipped.ms });
      notes.push(
        `${name}: shipped bundle ${(shipped.bytes / MB).toFixed(2)} MB (${shipped.bytes < SIZE_TARGET_BYTES ? 'under' : 'OVER'} the 1 MB target), ` +
          `cold import ${shipped.ms.toFixed(0)} ms (${shipped.ms < IMPORT_TARGET_MS ? 'under' : 'OVER'} the ${IMPORT_TARGET_MS} ms target); ` +
          `with the SDK bundled: ${(full.bytes / MB).toFixed(2)} MB, ${full.ms.toFixed(0)} ms`,
      );
    }
    notes.push(`cold import = time inside require() in a fresh node ${process.version} process, median of ${runs}; node's own start-up excluded`);
    return { suite: 'lambda', cases, ratios, notes };
  },
};

export default suite;
