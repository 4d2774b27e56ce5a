import { CommanderError } from 'commander';
import { ConfigError, ExitCode, IntegrityError } from '../../client/errors';
import { DynamoDBError, TableNotFoundError } from '../../client/dynamodb/errors';
import { BackendSpecError } from '../../client/migrate/errors';
import { formatError, NotConfirmedError, recognise, reportError, UsageError } from '../../client/cli/errors';

function refused(): Error {
  return Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8000'), { code: 'ECONNREFUSED', address: '127.0.0.1', port: 8000 });
}

describe('reportError maps every failure to one message, a hint and an exit code', () => {
  it('treats commander usage errors as exit 2', () => {
    const report = reportError(new CommanderError(1, 'commander.unknownOption', "error: unknown option '--x'"));
    expect(report).toMatchObject({ code: 'USAGE', message: "unknown option '--x'", exitCode: ExitCode.usage });
    expect(report.hint).toContain('--help');
  });

  it('treats invalid configuration and bad specs as exit 2 with their own hints', () => {
    const config = reportError(new ConfigError('Invalid cachevault configuration', [], { hint: 'fix it' }));
    expect(config).toMatchObject({ code: 'CONFIG_INVALID', exitCode: 2, hint: 'fix it' });
    expect(reportError(new BackendSpecError('ftp:x', 'unknown backend type')).exitCode).toBe(2);
    expect(reportError(new UsageError('bad')).exitCode).toBe(2);
  });

  it('keeps our errors as they are, with exit 1', () => {
    const report = reportError(new TableNotFoundError('t1'));
    expect(report).toMatchObject({ code: 'DYNAMODB_TABLE_NOT_FOUND', exitCode: 1 });
    expect(report.hint).toContain('cachevault table create');
    expect(reportError(new NotConfirmedError('Delete everything'))).toMatchObject({ code: 'NOT_CONFIRMED', exitCode: 1 });
  });

  it('explains a refused connection under our error without repeating what it already says', () => {
    const wrapped = new DynamoDBError('t1', 'dynamodb:GetItem on table "t1" failed: Error: connect ECONNREFUSED 127.0.0.1:8000', { cause: refused() });
    const report = reportError(wrapped);
    expect(report.message).toBe('dynamodb:GetItem on table "t1" failed: Error: connect ECONNREFUSED 127.0.0.1:8000');
    expect(report.hint).toContain('npm start');
    const quiet = reportError(new DynamoDBError('t1', 'dynamodb:GetItem failed', { cause: refused() }));
    expect(quiet.message).toBe('dynamodb:GetItem failed Could not reach the endpoint 127.0.0.1:8000 (ECONNREFUSED).');
  });

  it('recognises a bare refused connection and missing AWS credentials', () => {
    expect(recognise(refused())).toMatchObject({ code: 'ENDPOINT_UNREACHABLE' });
    const creds = Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' });
    expect(reportError(creds)).toMatchObject({ code: 'AWS_CREDENTIALS_MISSING', exitCode: 1 });
  });

  it('labels anything else as unexpected and points at --verbose', () => {
    const report = reportError(new TypeError('x is not a function\n    at somewhere'));
    expect(report).toMatchObject({ code: 'UNEXPECTED', message: 'Unexpected error: TypeError: x is not a function', exitCode: 1 });
    expect(report.hint).toContain('--verbose');
  });
});

describe('formatError', () => {
  it('prints one error line and one hint line, and no stack unless verbose', () => {
    const err = new IntegrityError();
    const text = formatError(reportError(err), err, false);
    expect(text).toBe('error: Stored entry failed its integrity check.\n');
    const withHint = new TableNotFoundError('t1');
    const lines = formatError(reportError(withHint), withHint, false).trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^error: /);
    expect(lines[1]).toMatch(/^hint: /);
  });

  it('adds the stack and every cause with --verbose', () => {
    const err = new DynamoDBError('t1', 'failed', { cause: refused() });
    const text = formatError(reportError(err), err, true);
    expect(text).toContain('DynamoDBError: failed');
    expect(text).toContain('caused by: Error: connect ECONNREFUSED');
    expect(text).toMatch(/^\s+at /m);
  });
});
