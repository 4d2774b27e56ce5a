import { CacheVaultError } from './errors';

/**
 * The packages cachevault uses only for some configurations. They are optional peer
 * dependencies: an app installs the ones its configuration needs, and a memory + file app stays
 * free of the AWS SDK and native keyring code. Each is loaded at the point of use.
 */
export const OPTIONAL_PACKAGES = {
  '@aws-sdk/client-dynamodb': 'the DynamoDB tier (backend "dynamodb", or "dynamodb" in hybrid.tiers)',
  '@aws-sdk/client-kms': 'the KMS key provider (keys.kms.keyId)',
  '@aws-sdk/client-secrets-manager': 'the Secrets Manager key manifest (keys.manifest.store "secretsmanager")',
  '@napi-rs/keyring': 'the OS keyring key provider ("keyring" in keys.providers)',
  '@opentelemetry/api': 'the OpenTelemetry metrics exporter (cachevault/otel) when no meter is passed',
} as const;
export type OptionalPackage = keyof typeof OPTIONAL_PACKAGES;

/** A configured feature needs a package that is not installed. */
export class MissingDependencyError extends CacheVaultError {
  override name = 'MissingDependencyError';
  override readonly code = 'DEPENDENCY_MISSING';
  readonly packageName: string;
  constructor(packageName: OptionalPackage, cause?: unknown) {
    super(`${OPTIONAL_PACKAGES[packageName]} needs the package ${packageName}, which is not installed.`, {
      cause,
      hint: `Install it beside cachevault: \`npm install ${packageName}\` (it is an optional peer dependency), or change the configuration so this feature is not used.`,
      context: { package: packageName },
    });
    this.packageName = packageName;
  }
}

/**
 * Runs `load` (a `require` of a module that imports `packageName`) and turns "cannot find
 * `packageName`" into a {@link MissingDependencyError}. Any other failure is rethrown as it is.
 * The `require` stays a literal at the call site so bundlers still see it.
 */
export function loadOptional<T>(packageName: OptionalPackage, load: () => T): T {
  try {
    return load();
  } catch (err) {
    if (isMissing(err, packageName)) throw new MissingDependencyError(packageName, err);
    throw err;
  }
}

/** Whether `packageName` can be loaded from here (no side effects beyond resolution). */
export function isInstalled(packageName: OptionalPackage): boolean {
  try {
    require.resolve(packageName);
    return true;
  } catch {
    return false;
  }
}

function isMissing(err: unknown, packageName: string): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    const code = (e as { code?: unknown }).code;
    if ((code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND') && e.message.includes(`'${packageName}'`)) return true;
  }
  return false;
}
