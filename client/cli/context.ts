/**
 * What every command gets: the global options, the output, the configuration (loaded once) and
 * a way to open the configured cache. Commands never read process.* directly, so tests can run
 * them in-process with their own io.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadConfig, type LoadedConfig, type LoadConfigOptions } from '../config/loadConfig';
import { defaultManifestPath } from '../keys/fileManifestStore';
import { backendRegistry } from '../backends/registry';
import type { CacheConfigInput } from '../config/schema';
import { Output, type CliIo } from './output';
import { openVault, type CliVault } from './openVault';

export interface GlobalOptions {
  /** `--config FILE` */
  readonly config?: string;
  readonly json: boolean;
  readonly verbose: boolean;
}

export class CliContext {
  readonly out: Output;
  private loaded: LoadedConfig | undefined;
  private readonly vaults: CliVault[] = [];
  private readonly warned = new Set<string>();

  constructor(
    readonly io: CliIo,
    readonly globals: GlobalOptions,
  ) {
    this.out = new Output(io, globals.json);
  }

  get env(): NodeJS.ProcessEnv {
    return this.io.env;
  }

  /** The merged configuration; warnings are printed once, on first load. */
  config(): LoadedConfig {
    if (!this.loaded) {
      this.loaded = loadConfig(this.loadOptions());
      for (const w of this.loaded.warnings) this.warnOnce(w);
    }
    return this.loaded;
  }

  loadOptions(options?: CacheConfigInput): LoadConfigOptions {
    return { file: this.globals.config, env: this.io.env, cwd: this.io.cwd, options };
  }

  /**
   * Where a read-only command (status, health) would have to create the cache to look at it:
   * every local part it would open is absent (no file-tier directory, no key manifest file) and
   * nothing shared is configured. Returns what is missing, or undefined when there is a cache.
   * Opening it would write a directory and a first key: those commands report this instead.
   */
  missingLocalCache(): string | undefined {
    const { config } = this.config();
    if (backendRegistry.usesSharedTier(config) || config.keys.manifest.store !== 'file') return undefined;
    // The manifest's default place is beside the file tier's directory, configured or not.
    const manifest = resolve(this.io.cwd, config.keys.manifest.path ?? defaultManifestPath(resolve(this.io.cwd, config.file.dir)));
    const localDirs = backendRegistry.localPaths(config, this.io.cwd);
    const dirMissing = localDirs.every((dir) => !existsSync(dir));
    const manifestMissing = !config.encryption.enabled || !existsSync(manifest);
    if (!dirMissing || !manifestMissing) return undefined;
    return localDirs.length > 0 ? `nothing has been cached here yet: ${localDirs.join(', ')} does not exist` : 'nothing has been cached here yet (no key manifest, no file tier)';
  }

  /**
   * Opens the configured cache (closed by `closeAll` when the command ends). `readOnly` for
   * commands that must change nothing (no key version, manifest, pin or audit record);
   * `recoverKeys` for `keys restore`, which must open a refused manifest to replace it.
   */
  async open(options?: CacheConfigInput, mode: { readOnly?: boolean; recoverKeys?: boolean } = {}): Promise<CliVault> {
    const vault = await openVault(this.loadOptions(options), this.globals.verbose, mode);
    this.vaults.push(vault);
    for (const w of vault.warnings) this.warnOnce(w);
    return vault;
  }

  /** The config is loaded by several parts of one command; each warning is worth saying once. */
  warnOnce(message: string): void {
    if (this.warned.has(message)) return;
    this.warned.add(message);
    this.out.warn(message);
  }

  async closeAll(): Promise<void> {
    const vaults = this.vaults.splice(0);
    for (const v of vaults.reverse()) {
      this.reportKeyFallbacks(v);
      await v.close();
    }
  }

  /** A key provider that could not work here (no keyring, no AWS credentials) is named once, with the provider used instead. */
  private reportKeyFallbacks(vault: CliVault): void {
    const status = vault.keys?.status();
    if (!status || status.stats.fallbacks === 0) return;
    const down = status.providers.filter((p) => p.down);
    const used = status.providers.find((p) => !p.down)?.provider;
    for (const p of down) {
      this.warnOnce(`The ${p.provider} key provider is unavailable here (${p.reason ?? 'outage'}); ${used ? `using the ${used} provider instead, as configured in keys.providers` : 'no other provider worked'}.`);
    }
  }
}
