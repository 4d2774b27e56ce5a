import { CacheVaultError, type CacheVaultErrorOptions } from '../client/errors';

/** A Lambda was invoked with an event it cannot act on; nothing was changed. */
export class InvalidEventError extends CacheVaultError {
  override name = 'InvalidEventError';
  override readonly code = 'LAMBDA_INVALID_EVENT';
}

/** Starting (or continuing) a migrate job through the Lambda API failed. */
export class JobInvokeError extends CacheVaultError {
  override name = 'JobInvokeError';
  override readonly code = 'LAMBDA_JOB_INVOKE_FAILED';
  constructor(functionName: string, options: CacheVaultErrorOptions = {}) {
    super(`Could not start the migrate function ${functionName}.`, {
      hint: 'Check that this role may lambda:InvokeFunction the migrate function and that CACHEVAULT_MIGRATE_FUNCTION_NAME names it.',
      ...options,
      context: { functionName, ...options.context },
    });
  }
}
