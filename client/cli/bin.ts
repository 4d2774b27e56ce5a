#!/usr/bin/env node
/** The `cachevault` executable (package.json `bin`). */
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { main } from './index';
import type { CliIo } from './output';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** Reads one line from the terminal; with `secret` the typed characters are not echoed. */
function prompt(question: string, options: { secret: boolean }): Promise<string> {
  let muted = false;
  const output = new Writable({
    write(chunk: Buffer, _enc, done) {
      if (!muted) process.stderr.write(chunk);
      done();
    },
  });
  const rl = createInterface({ input: process.stdin, output, terminal: true });
  return new Promise((resolve) => {
    rl.question(question, (answer) => {
      rl.close();
      if (options.secret) process.stderr.write('\n');
      resolve(answer);
    });
    muted = options.secret;
  });
}

const io: CliIo = {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  isTTY: process.stderr.isTTY === true,
  env: process.env,
  cwd: process.cwd(),
  prompt: process.stdin.isTTY ? prompt : undefined,
};

main(process.argv.slice(2), io).then((code) => {
  process.exitCode = code;
});
