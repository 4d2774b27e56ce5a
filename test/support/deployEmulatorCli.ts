/**
 * `npm run deploy:emulator [-- --env dev] [--port N]`: starts moto_server on a free loopback port
 * (or uses the one on --port), bootstraps it and deploys the Data stack with the real CDK CLI,
 * prints the outputs and what was patched for moto, and stops the server it started.
 */
import { deployDataStackToEmulator } from './emulatorDeploy';
import { startMotoServer, type MotoServer } from './motoServer';
import { parametersFor } from '../../lib/parameters';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const flag = (name: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const envName = parametersFor(flag('env') ?? 'dev').envName;
  const given = flag('port');
  let moto: MotoServer | undefined;
  const port = given ? Number(given) : (moto = await startMotoServer()).port;
  try {
    const result = await deployDataStackToEmulator({ port, envName, log: (line) => process.stderr.write(`deploy:emulator: ${line}\n`) });
    process.stdout.write(`${JSON.stringify({ endpoint: `http://localhost:${port}`, ...result }, null, 2)}\n`);
  } finally {
    await moto?.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`deploy:emulator failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
