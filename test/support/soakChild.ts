/**
 * Runs the short soak in a process of its own and prints its report as JSON. The soak's RSS check
 * compares this process's resident memory after the warm-up and at the end; inside a jest worker
 * that has run other test files, memory those files left behind is returned to the system during
 * the soak and reads as a fall of half or more.
 */
import { runSoak } from '../../bench/support/soakRun';

const endpoint = process.argv[2];
if (endpoint === undefined) throw new Error('usage: soakChild.ts <DynamoDB endpoint>');
runSoak({ endpoint, seconds: 4, warmupSeconds: 2, keys: 300 }).then(
  (report) => process.stdout.write(JSON.stringify(report)),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
