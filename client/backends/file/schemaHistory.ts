/**
 * Every released schema of the file tier's database, and how each is migrated to the current
 * one. A schema that reached users is never edited here: fixtures of each live in
 * test/fixtures/file-cache/ and must keep opening with their entries intact.
 */

/**
 * Schema 1 (cachevault 0.1 before access times moved out): `accessed_at` in `entries`, no
 * `access` table, no application_id.
 */
export const SCHEMA_V1 = `
CREATE TABLE IF NOT EXISTS entries (
  id INTEGER PRIMARY KEY,
  namespace TEXT NOT NULL,
  key TEXT NOT NULL,
  expires_at INTEGER,
  key_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  accessed_at INTEGER NOT NULL,
  size INTEGER NOT NULL,
  charge INTEGER NOT NULL,
  crc INTEGER NOT NULL,
  value BLOB,
  blob TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS entries_ref ON entries (namespace, key);
CREATE INDEX IF NOT EXISTS entries_lru ON entries (accessed_at);
CREATE INDEX IF NOT EXISTS entries_expiry ON entries (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS entries_blob ON entries (blob) WHERE blob IS NOT NULL;
CREATE TABLE IF NOT EXISTS totals (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  entries INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  blobs INTEGER NOT NULL
);
INSERT OR IGNORE INTO totals (id, entries, bytes, blobs) VALUES (1, 0, 0, 0);
CREATE TRIGGER IF NOT EXISTS entries_insert AFTER INSERT ON entries BEGIN
  UPDATE totals SET entries = entries + 1, bytes = bytes + NEW.charge, blobs = blobs + (NEW.blob IS NOT NULL) WHERE id = 1;
END;
CREATE TRIGGER IF NOT EXISTS entries_delete AFTER DELETE ON entries BEGIN
  UPDATE totals SET entries = entries - 1, bytes = bytes - OLD.charge, blobs = blobs - (OLD.blob IS NOT NULL) WHERE id = 1;
END;
CREATE TRIGGER IF NOT EXISTS entries_update AFTER UPDATE OF charge, blob ON entries BEGIN
  UPDATE totals SET bytes = bytes - OLD.charge + NEW.charge,
    blobs = blobs - (OLD.blob IS NOT NULL) + (NEW.blob IS NOT NULL) WHERE id = 1;
END;
`;

/**
 * Schema 1 to 2, first half: set the old table aside (its triggers and indexes go with it, so
 * their names are free for the current schema). The caller then runs the current schema's SQL
 * and {@link MIGRATE_V1_FINISH}, all in one transaction.
 */
export const MIGRATE_V1_START = `
DROP TRIGGER entries_insert;
DROP TRIGGER entries_delete;
DROP TRIGGER entries_update;
DROP INDEX entries_ref;
DROP INDEX entries_lru;
DROP INDEX entries_expiry;
DROP INDEX entries_blob;
ALTER TABLE entries RENAME TO entries_v1;
`;

/** Copies every row (same ids, so blobs and access times line up) and lets the triggers recount the totals. */
export const MIGRATE_V1_FINISH = `
UPDATE totals SET entries = 0, bytes = 0, blobs = 0 WHERE id = 1;
INSERT INTO entries (id, namespace, key, expires_at, key_id, created_at, size, charge, crc, value, blob)
  SELECT id, namespace, key, expires_at, key_id, created_at, size, charge, crc, value, blob FROM entries_v1;
INSERT INTO access (id, at) SELECT id, accessed_at FROM entries_v1;
DROP TABLE entries_v1;
`;
