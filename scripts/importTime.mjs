/* global process, console */
// What loading cachevault adds to a bare `node` start, in milliseconds: the median over N cold
// processes of the time from process start to "loaded" (performance.now()) and of the CPU time
// used by then, with `require(X)`, with `import(X)`, and with nothing (the baseline). CPU time is
// reported beside wall time because wall time on a shared machine mostly measures the neighbours.
// Usage (from a directory where X resolves): node scripts/importTime.mjs [X=cachevault] [runs=21]
import { execFileSync } from 'node:child_process';

const target = JSON.stringify(process.argv[2] ?? 'cachevault');
const runs = Number(process.argv[3] ?? 21);
const report = 'const u = process.cpuUsage(); console.log(JSON.stringify([performance.now(), (u.user + u.system) / 1000]))';
const cases = {
  bare: ['-e', report],
  bareEsm: ['--input-type=module', '-e', report],
  require: ['-e', `require(${target}); ${report}`],
  import: ['--input-type=module', '-e', `await import(${target}); ${report}`],
};
const samples = Object.fromEntries(Object.keys(cases).map((k) => [k, { wall: [], cpu: [] }]));
for (let i = 0; i < runs; i++) {
  for (const [name, args] of Object.entries(cases)) {
    const [wall, cpu] = JSON.parse(execFileSync(process.execPath, args, { encoding: 'utf8' }));
    samples[name].wall.push(wall);
    samples[name].cpu.push(cpu);
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const over = (name, what, base = 'bare') => +(median(samples[name][what]) - median(samples[base][what])).toFixed(1);
console.log(JSON.stringify({
  runs,
  bare: { wallMs: +median(samples.bare.wall).toFixed(1), cpuMs: +median(samples.bare.cpu).toFixed(1) },
  require: { wallMs: over('require', 'wall'), cpuMs: over('require', 'cpu') },
  import: { wallMs: over('import', 'wall', 'bareEsm'), cpuMs: over('import', 'cpu', 'bareEsm') },
}));
