import { MemoryBackend, type MemoryBackendOptions } from '../../client/backends/memoryBackend';
import type { BackendCapabilities, StoredEntry, WriteResult } from '../../client/types';

/** A memory backend that claims to be the shared tier (a stand-in for DynamoDB) and can be taken down. */
export class SharedMemoryBackend extends MemoryBackend {
  override readonly capabilities: BackendCapabilities = { scanSegments: 1, maxBatchWrite: 25, persistent: true, shared: true };
  /** While set, every storage call fails as a refused connection would. */
  down = false;
  constructor(options: MemoryBackendOptions = {}) {
    super(options);
  }
  private gate(): void {
    if (this.down) throw new Error('connect ECONNREFUSED 127.0.0.1:8000');
  }
  protected override async _get(namespace: string, key: string): Promise<StoredEntry | undefined> {
    this.gate();
    return super._get(namespace, key);
  }
  protected override async _getMany(namespace: string, keys: readonly string[]): Promise<(StoredEntry | undefined)[]> {
    this.gate();
    return super._getMany(namespace, keys);
  }
  protected override async _setMany(entries: readonly StoredEntry[]): Promise<WriteResult> {
    this.gate();
    return super._setMany(entries);
  }
  protected override async _deleteMany(namespace: string, keys: readonly string[]): Promise<number> {
    this.gate();
    return super._deleteMany(namespace, keys);
  }
}
