import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join, relative } from 'node:path';

/** What one path in a tree is: its type, permission bits, and content (files) or target (links). */
export interface TreeNode {
  readonly type: 'file' | 'dir' | 'symlink' | 'other';
  readonly mode: number;
  /** sha256 of a file's bytes, a symlink's target, or the sorted names of a directory. */
  readonly digest: string;
}

/** Every path under `root` (relative, `.` for the root itself) with its node; symlinks are never followed. */
export type TreeSnapshot = Record<string, TreeNode>;

/**
 * Hashes a whole tree without following symlinks: file contents, permission bits, symlink
 * targets and directory listings. Two snapshots that compare equal (`expect(after).toEqual(before)`)
 * mean no byte, mode, name or link under `root` changed. Timestamps are left out on purpose:
 * reading a file may update its atime, which is not a change.
 *
 * `exclude` holds paths relative to `root` whose subtrees are skipped (e.g. the cache root,
 * which is allowed to change, inside a temp tree whose rest is not).
 */
export function hashTree(root: string, options: { exclude?: readonly string[] } = {}): TreeSnapshot {
  const exclude = new Set(options.exclude ?? []);
  const out: TreeSnapshot = {};
  const visit = (path: string): void => {
    const rel = relative(root, path) || '.';
    if (exclude.has(rel)) return;
    let stat;
    try {
      stat = lstatSync(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // removed while we walked
      throw err;
    }
    const mode = stat.mode & 0o7777;
    if (stat.isSymbolicLink()) {
      out[rel] = { type: 'symlink', mode, digest: sha256(readlinkSync(path)) };
    } else if (stat.isDirectory()) {
      const names = readdirSync(path).sort();
      out[rel] = { type: 'dir', mode, digest: sha256(names.join('\0')) };
      for (const name of names) visit(join(path, name));
    } else if (stat.isFile()) {
      out[rel] = { type: 'file', mode, digest: sha256(readFileSync(path)) };
    } else {
      out[rel] = { type: 'other', mode, digest: '' };
    }
  };
  visit(root);
  return out;
}

/** The paths whose node differs between two snapshots (added, removed or changed), for messages. */
export function treeChanges(before: TreeSnapshot, after: TreeSnapshot): string[] {
  const changes: string[] = [];
  for (const path of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const a = before[path];
    const b = after[path];
    if (!a) changes.push(`added ${path}`);
    else if (!b) changes.push(`removed ${path}`);
    else if (a.type !== b.type || a.mode !== b.mode || a.digest !== b.digest) changes.push(`changed ${path}`);
  }
  return changes.sort();
}

function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
