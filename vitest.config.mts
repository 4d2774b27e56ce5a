// vitest runs only the Keyv conformance suite (@keyv/test-suite is written for vitest); every
// other test is jest's. `npm test` runs both.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/keyv/**/*.vitest.ts'],
    globalSetup: ['test/keyv/dynamoDbLocalSetup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Each file builds its caches on its own temp dirs and table; files may run side by side.
    fileParallelism: true,
    // The client loads some of its own modules lazily with require(): tsx lets the workers'
    // require resolve the TypeScript sources, as jest's transform does.
    pool: 'forks',
    execArgv: ['--import', 'tsx'],
  },
});
