// The Lambda handlers log and emit metrics through Powertools, which print to stdout: between test
// results that is hundreds of lines. Tests assert on the calls (spies), not the printed lines, so
// the output is silenced for every worker (they inherit this environment). Set the variables
// yourself to see them.
process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** @type {import('jest').Config} */
const swc = ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } }];
const shared = {
  transform: { '^.+\\.(t|j)sx?$': swc },
  // middy is ESM-only; map it to its entry and let swc turn it into CommonJS.
  moduleNameMapper: { '^@middy/([^/]+)$': '<rootDir>/node_modules/@middy/$1/index.js' },
  transformIgnorePatterns: ['/node_modules/(?!@middy/)'],
  testEnvironment: 'node',
};
module.exports = {
  testTimeout: 60_000,
  // The security reporter prints the adversarial suite's table (attack class | attempts | held)
  // whenever files of test/security/ ran, in `npm test` and `npm run security` alike.
  reporters: ['default', '<rootDir>/test/security/reporter.js'],
  projects: [
    { ...shared, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    {
      ...shared,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      globalSetup: '<rootDir>/test/support/globalSetup.ts',
      globalTeardown: '<rootDir>/test/support/globalTeardown.ts',
    },
    // The adversarial suite (docs/security.md): one top-level describe per attack class, one
    // test per attempt. It may use DynamoDB Local, so it shares the integration setup.
    {
      ...shared,
      displayName: 'security',
      testMatch: ['<rootDir>/test/security/**/*.test.ts'],
      globalSetup: '<rootDir>/test/support/globalSetup.ts',
      globalTeardown: '<rootDir>/test/support/globalTeardown.ts',
    },
    // The AWS side against AWS-shaped servers (docs/operations.md#what-the-emulator-tests-prove):
    // KMS, Secrets Manager, CloudFormation on one moto_server, DynamoDB on DynamoDB Local, both
    // on free loopback ports for the run. `npm run test:aws` runs only this project.
    {
      ...shared,
      displayName: 'aws',
      testMatch: ['<rootDir>/test/aws/**/*.test.ts'],
      setupFiles: ['<rootDir>/test/support/awsTestEnv.ts'],
      globalSetup: '<rootDir>/test/support/awsGlobalSetup.ts',
      globalTeardown: '<rootDir>/test/support/awsGlobalTeardown.ts',
    },
  ],
};
