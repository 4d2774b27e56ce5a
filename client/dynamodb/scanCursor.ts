import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { InvalidArgumentError } from '../errors';

/** What a scan cursor carries: DynamoDB's LastEvaluatedKey (string keys only) and its segment. */
export interface ScanPosition {
  readonly lastKey: Record<string, string>;
  readonly segment?: number;
  readonly totalSegments?: number;
}

/**
 * Encodes LastEvaluatedKey as base64url JSON, so a scan can resume in another process (a
 * migration restarted after a crash). The table's keys are strings, so no binary is involved.
 */
export function encodeScanCursor(lastKey: Record<string, AttributeValue>, segment?: number, totalSegments?: number): string {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(lastKey)) {
    if (value.S === undefined) throw new InvalidArgumentError(`Scan key attribute "${name}" is not a string; cannot build a cursor.`);
    flat[name] = value.S;
  }
  return Buffer.from(JSON.stringify({ v: 1, k: flat, s: segment, t: totalSegments }), 'utf8').toString('base64url');
}

export function decodeScanCursor(cursor: string): ScanPosition {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch (cause) {
    throw badCursor(cause);
  }
  if (typeof parsed !== 'object' || parsed === null) throw badCursor();
  const { v, k, s, t } = parsed as { v?: unknown; k?: unknown; s?: unknown; t?: unknown };
  if (v !== 1 || typeof k !== 'object' || k === null || Object.values(k).some((x) => typeof x !== 'string')) throw badCursor();
  return {
    lastKey: k as Record<string, string>,
    segment: typeof s === 'number' ? s : undefined,
    totalSegments: typeof t === 'number' ? t : undefined,
  };
}

export function cursorStartKey(position: ScanPosition): Record<string, AttributeValue> {
  return Object.fromEntries(Object.entries(position.lastKey).map(([name, s]) => [name, { S: s }]));
}

function badCursor(cause?: unknown): InvalidArgumentError {
  return new InvalidArgumentError('This scan cursor is not one the DynamoDB backend issued.', {
    hint: 'Pass back the cursor from the previous page unchanged, or start the scan again without one.',
    cause,
  });
}
