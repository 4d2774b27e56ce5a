/**
 * Asks each configured key provider whether it could supply a key, without creating or writing
 * anything: what `status` and `health` report where no cache exists yet.
 */
import type { AdvancedCacheConfig } from '../config/schema';
import { createKeyProviders } from '../keys/createKeyProviders';
import type { KeyProvider } from '../keys/keyProvider';
import { reportError } from './errors';

export interface ProviderProbe {
  readonly provider: string;
  readonly ok: boolean;
  readonly reason: string | null;
}

export async function probeProviders(config: AdvancedCacheConfig, env: NodeJS.ProcessEnv): Promise<ProviderProbe[]> {
  const out: ProviderProbe[] = [];
  let providers: KeyProvider[];
  try {
    providers = createKeyProviders(config.keys, { env });
  } catch (err) {
    return [{ provider: config.keys.providers.join(','), ok: false, reason: reportError(err).message.split('\n')[0]! }];
  }
  for (const p of providers) {
    const result = await p.probe().catch((err: unknown) => ({ ok: false as const, reason: reportError(err).message.split('\n')[0]! }));
    out.push({ provider: p.name, ok: result.ok, reason: result.ok ? null : result.reason });
  }
  return out;
}
