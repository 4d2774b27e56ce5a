/* The adversarial suite's reporter (test/security/reporter.js): its counting and its last line. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const SecurityReporter = require('../security/reporter.js') as {
  new (globalConfig: Record<string, unknown>): { onRunComplete(ctx: unknown, results: unknown): void; getLastError(): Error | undefined };
  summarize(results: unknown[], rootDir: string, options?: { filtered?: boolean }): Summary | undefined;
  format(summary: Summary): string;
};

interface Summary {
  rows: { name: string; attempts: number; held: number }[];
  attempts: number;
  held: number;
  broken: number;
}

const ROOT = '/repo';
const file = (path: string, tests: [string[], string, string][], extra: Record<string, unknown> = {}) => ({
  testFilePath: `${ROOT}/${path}`,
  testResults: tests.map(([ancestorTitles, title, status]) => ({ ancestorTitles, title, status })),
  ...extra,
});

describe('the security reporter', () => {
  it('counts attempts and held attempts per top-level describe, across files', () => {
    const summary = SecurityReporter.summarize(
      [
        file('test/security/a.test.ts', [
          [['replays'], 'one', 'passed'],
          [['replays', 'nested'], 'two', 'passed'],
        ]),
        file('test/security/b.test.ts', [
          [['replays'], 'three', 'failed'],
          [['config'], 'four', 'passed'],
        ]),
        file('test/unit/c.test.ts', [[['not security'], 'x', 'passed']]),
      ],
      ROOT,
    )!;
    expect(summary.rows).toEqual([
      { name: 'config', attempts: 1, held: 1 },
      { name: 'replays', attempts: 3, held: 2 },
    ]);
    expect([summary.attempts, summary.held, summary.broken]).toEqual([4, 3, 1]);
    expect(SecurityReporter.format(summary).split('\n').pop()).toBe('security: 4 attempts, 3 held, 1 broken');
  });

  it('counts skipped and todo attempts, and files that could not run, as broken', () => {
    const summary = SecurityReporter.summarize(
      [
        file('test/security/a.test.ts', [
          [['replays'], 'skipped', 'pending'],
          [['replays'], 'todo', 'todo'],
          [['replays'], 'ran', 'passed'],
        ]),
        file('test/security/broken.test.ts', [], { testExecError: { message: 'SyntaxError' }, failureMessage: 'SyntaxError' }),
      ],
      ROOT,
    )!;
    expect([summary.attempts, summary.held, summary.broken]).toEqual([4, 1, 3]);
    expect(summary.rows.map((r) => r.name)).toContain('(could not run) broken.test.ts');
  });

  it('leaves out attempts skipped by a test-name filter', () => {
    const summary = SecurityReporter.summarize([file('test/security/a.test.ts', [[['replays'], 'a', 'pending'], [['replays'], 'b', 'passed']])], ROOT, { filtered: true })!;
    expect([summary.attempts, summary.held, summary.broken]).toEqual([1, 1, 0]);
  });

  it('prints nothing when no security file ran, and fails the run when an attempt broke', () => {
    expect(SecurityReporter.summarize([file('test/unit/c.test.ts', [[['x'], 'y', 'passed']])], ROOT)).toBeUndefined();
    const write = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      const reporter = new SecurityReporter({ rootDir: ROOT });
      reporter.onRunComplete(undefined, { testResults: [file('test/security/a.test.ts', [[['replays'], 'a', 'passed']])] });
      expect(reporter.getLastError()).toBeUndefined();
      expect(String(write.mock.calls.at(-1)?.[0])).toMatch(/\nsecurity: 1 attempts, 1 held, 0 broken\n$/);
      const failing = new SecurityReporter({ rootDir: ROOT });
      failing.onRunComplete(undefined, { testResults: [file('test/security/a.test.ts', [[['replays'], 'a', 'pending']])] });
      expect(failing.getLastError()?.message).toMatch(/1 attempt broken/);
    } finally {
      write.mockRestore();
    }
  });

  it('keeps stdout parseable when jest prints its JSON report there', () => {
    const out = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const err = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      new SecurityReporter({ rootDir: ROOT, json: true }).onRunComplete(undefined, { testResults: [file('test/security/a.test.ts', [[['r'], 'a', 'passed']])] });
      expect(out).not.toHaveBeenCalled();
      expect(err).toHaveBeenCalled();
    } finally {
      out.mockRestore();
      err.mockRestore();
    }
  });
});
