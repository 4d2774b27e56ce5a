import { cliWorkspace, expectCleanError, uniqueTableName, type CliWorkspace } from './cliRunner';

describe('cachevault table (built CLI, DynamoDB Local)', () => {
  let ws: CliWorkspace;
  const tableName = uniqueTableName('cli-table');
  beforeAll(() => {
    ws = cliWorkspace({ tableName });
  });
  afterAll(async () => {
    await ws.run(['table', 'delete', '--yes']);
    ws.remove();
  });

  it('validate reports a missing table with exit 1', async () => {
    const { code, body } = await ws.json<{ ok: boolean; problems: { kind: string }[] }>(['table', 'validate']);
    expect(code).toBe(1);
    expect(body.ok).toBe(false);
    expect(body.problems.map((p) => p.kind)).toEqual(['missing']);
  });

  it('describe of a missing table fails with one line and a hint naming `table create`', async () => {
    const { code, stderr } = await ws.run(['table', 'describe']);
    expect(code).toBe(1);
    expectCleanError(stderr);
    expect(stderr).toContain('table create');
  });

  it('create makes the table with TTL on expiresAt, and validate then passes', async () => {
    const created = await ws.json<{ tableName: string; status: string; billingMode: string; ttl: { status: string; attribute: string } }>(['table', 'create']);
    expect(created.code).toBe(0);
    expect(created.body).toMatchObject({ tableName, status: 'ACTIVE', billingMode: 'PAY_PER_REQUEST', ttl: { status: 'ENABLED', attribute: 'expiresAt' } });
    const valid = await ws.json<{ ok: boolean; problems: unknown[] }>(['table', 'validate']);
    expect(valid).toMatchObject({ code: 0, body: { ok: true, problems: [] } });
  });

  it('describe prints the summary in human form', async () => {
    const { code, stdout } = await ws.run(['table', 'describe']);
    expect(code).toBe(0);
    expect(stdout).toMatch(new RegExp(`^table:\\s+${tableName}$`, 'm'));
    expect(stdout).toMatch(/^ttl:\s+ENABLED on expiresAt$/m);
  });

  it('--table works on another table than the configured one', async () => {
    const other = uniqueTableName('cli-table-other');
    expect((await ws.run(['table', 'create', '--table', other, '--billing-mode', 'PROVISIONED', '--read-capacity', '2', '--write-capacity', '3'])).code).toBe(0);
    const described = await ws.json<{ billingMode: string; readCapacity: number; writeCapacity: number }>(['table', 'describe', '-t', other]);
    expect(described.body).toMatchObject({ billingMode: 'PROVISIONED', readCapacity: 2, writeCapacity: 3 });
    expect((await ws.run(['table', 'delete', '--table', other, '--yes'])).code).toBe(0);
  });

  it('an invalid billing mode is a usage error', async () => {
    const { code, stderr } = await ws.run(['table', 'create', '--billing-mode', 'FREE']);
    expect(code).toBe(2);
    expect(stderr).toContain('--billing-mode');
  });

  it('delete without --yes and without a terminal refuses and keeps the table', async () => {
    const { code, stderr } = await ws.run(['table', 'delete']);
    expect(code).toBe(1);
    expectCleanError(stderr);
    expect(stderr).toContain('not confirmed');
    expect((await ws.run(['table', 'validate'])).code).toBe(0);
  });

  it('delete --yes removes the table', async () => {
    expect((await ws.json<{ deleted: boolean }>(['table', 'delete', '--yes'])).body.deleted).toBe(true);
    expect((await ws.run(['table', 'validate'])).code).toBe(1);
  });
});
