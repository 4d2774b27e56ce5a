/**
 * The DynamoDB table layout, defined once. The DynamoDBBackend, the TableManager and the CDK
 * stack all import it, so the table the stack creates is the table the client expects.
 */
export const TableSchema = {
  /**
   * Partition key (string): `<namespace>#<namespace generation>#k:<key>`, or `...#h:<sha-256 hex>`
   * for keys over 1 KiB (DynamoDB's key limit is 2 KiB); namespace generation counters live at
   * `#ns#<namespace>`. See client/dynamodb/itemKeys.ts.
   */
  partitionKey: 'pk',
  /** Sort key (string): `v` for the entry (manifest) item, `c#<chunk generation>#<index>` for chunks, `ns` for a namespace counter. */
  sortKey: 'sk',
  /** TTL attribute, epoch **seconds** (DynamoDB TTL's unit); absent for entries that never expire. */
  ttlAttribute: 'expiresAt',
  attributes: {
    /** Sealed value bytes (binary), or a chunk of them. */
    value: 'v',
    /** Key version that sealed the value ('none' when unencrypted). */
    keyId: 'kid',
    /** Exact expiry in epoch milliseconds (the TTL attribute is rounded up to seconds). */
    expiresAtMs: 'exp',
    /** Total value size in bytes. */
    size: 'sz',
    /** Creation time, epoch milliseconds. */
    createdAt: 'ct',
    /** Namespace and original key, kept in clear for scans and migration. */
    namespace: 'ns',
    key: 'k',
    /** Chunk count and chunk generation id on entries split over several items (and on their chunks); the counter value on namespace counter items. */
    chunks: 'nc',
    generation: 'gen',
    /** Item kind: `e` entry, `c` chunk, `n` namespace generation counter (leases use their own). */
    kind: 'kd',
    /**
     * Entry item format version (number). Absent on items written before it existed, which are
     * format 1 (the same shape); a reader refuses a newer one as a counted miss.
     */
    formatVersion: 'fv',
  },
  /** DynamoDB's item size limit is 400 KB; chunks stay well under it with room for attributes. */
  maxItemBytes: 400 * 1024,
  defaultChunkBytes: 350 * 1024,
  /** Default table name when none is configured. */
  defaultTableName: 'cachevault',
} as const;

/**
 * Naming of the Secrets Manager secret holding an environment's key manifest (wrapped data keys
 * only). Shared by the CDK stack and the KeyManager.
 */
export function keyManifestSecretName(app: string, env: string): string {
  return `cachevault/${app}/${env}/key-manifest`;
}
