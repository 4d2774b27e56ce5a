/**
 * Finds code that compares one of a closed set of names (registered backend types, key-provider
 * names, ...) to a string literal: the "switch on a name in ten places" that a registry replaces.
 * Used by test/unit/backendNamesOnlyInRegistry.test.ts; reusable for any other registry:
 *
 * ```ts
 * const found = findNameComparisons({
 *   names: ['kms', 'keyring', 'env'],
 *   roots: ['client', 'lambda', 'lib', 'bin'],
 *   allowedPaths: ['client/keys/providers/'],     // the registry itself
 *   allow: [{ file: 'client/x.ts', contains: "mode === 'env'", reason: 'why this one is fine' }],
 * });
 * expect(found.map(formatNameComparison)).toEqual([]);
 * ```
 *
 * What counts, in the TypeScript AST of every .ts file under `roots` (type-checked, so only
 * expressions that hold one of the names are caught):
 * - `x === 'name'`, `x !== 'name'` (and `==`, `!=`, either side);
 * - `case 'name':` in a `switch (x)`;
 * - `xs.includes('name')`, `xs.indexOf('name')`, `xs.lastIndexOf('name')`, `set.has('name')`,
 *   where the method's parameter is name-typed (an array's element type). A plain function
 *   taking a name (`usesTier(config, 'file')`) asks about one backend by a typed name, for code
 *   that uses that backend's own features: not a switch, not reported.
 *
 * `x` is name-typed when its type is a union of string literals with at least two of `names` in
 * it (`BackendType`, `'file' | 'dynamodb' | 'all'`), or a plain `string` (`backend.name`), which
 * cannot be told apart from a name by type. A type with only one of the names (`manifest.store:
 * 'file' | 'secretsmanager'`) is some other vocabulary that happens to share a word, and is not
 * reported. A plain-`string` comparison that is not about the names goes in `allow` with its
 * reason.
 *
 * Cheap: a syntactic pass finds candidate files first; only those are type-checked.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import ts from 'typescript';

export interface AllowedComparison {
  /** Repo-relative path, `/`-separated. */
  readonly file: string;
  /** Text the reported line contains (not a line number, which moves with every edit). */
  readonly contains: string;
  /** Why this comparison is not a switch on the registered names. */
  readonly reason: string;
}

export interface NameComparisonCheck {
  /** The names no code outside `allowedPaths` may compare to a literal. */
  readonly names: readonly string[];
  /** Directories (relative to `rootDir`) whose .ts files are checked. */
  readonly roots: readonly string[];
  /** Path prefixes (relative to `rootDir`, `/`-separated) where such comparisons belong: the registry. */
  readonly allowedPaths: readonly string[];
  /** Single occurrences allowed elsewhere, each with its reason. */
  readonly allow?: readonly AllowedComparison[];
  /** @default the repository root */
  readonly rootDir?: string;
  /** Compiler options; @default those of `rootDir`/tsconfig.json */
  readonly compilerOptions?: ts.CompilerOptions;
}

export interface NameComparison {
  readonly file: string;
  readonly line: number;
  readonly name: string;
  readonly kind: 'equality' | 'case' | 'call';
  /** The source line, trimmed. */
  readonly text: string;
}

export function formatNameComparison(c: NameComparison): string {
  return `${c.file}:${c.line}: ${c.kind} with '${c.name}': ${c.text}`;
}

const EQUALITY = new Set([
  ts.SyntaxKind.EqualsEqualsEqualsToken,
  ts.SyntaxKind.ExclamationEqualsEqualsToken,
  ts.SyntaxKind.EqualsEqualsToken,
  ts.SyntaxKind.ExclamationEqualsToken,
]);

interface Candidate {
  readonly literal: ts.StringLiteralLike;
  /** The expression the literal is compared with (for a call: the call itself). */
  readonly other: ts.Expression;
  readonly kind: NameComparison['kind'];
}

export function findNameComparisons(check: NameComparisonCheck): NameComparison[] {
  const rootDir = check.rootDir ?? join(__dirname, '..', '..');
  const names = new Set(check.names);
  const toRel = (abs: string): string => relative(rootDir, abs).split(sep).join('/');

  // Syntactic pass: files with a literal of one of the names in a comparison position.
  const files = check.roots.flatMap((r) => tsFiles(join(rootDir, r))).filter((f) => !check.allowedPaths.some((p) => toRel(f).startsWith(p)));
  const candidateFiles = files.filter((f) => {
    const source = ts.createSourceFile(f, readFileSync(f, 'utf8'), ts.ScriptTarget.Latest, true);
    return candidates(source, names).length > 0;
  });
  if (candidateFiles.length === 0) return [];

  const program = ts.createProgram(candidateFiles, check.compilerOptions ?? compilerOptionsOf(rootDir));
  const checker = program.getTypeChecker();
  const found: NameComparison[] = [];
  for (const file of candidateFiles) {
    const source = program.getSourceFile(file)!;
    for (const c of candidates(source, names)) {
      const type = c.kind === 'call' ? firstParameterType(checker, c.other as ts.CallExpression) : checker.getTypeAtLocation(c.other);
      if (type === undefined || !isNameTyped(type, names)) continue;
      const { line } = source.getLineAndCharacterOfPosition(c.literal.getStart(source));
      const text = source.text.split('\n')[line]!.trim();
      const rel = toRel(file);
      if (check.allow?.some((a) => a.file === rel && text.includes(a.contains))) continue;
      found.push({ file: rel, line: line + 1, name: c.literal.text, kind: c.kind, text });
    }
  }
  return found;
}

function candidates(source: ts.SourceFile, names: ReadonlySet<string>): Candidate[] {
  const out: Candidate[] = [];
  const isName = (n: ts.Node): n is ts.StringLiteralLike => ts.isStringLiteralLike(n) && names.has(n.text);
  const visit = (node: ts.Node): void => {
    if (ts.isBinaryExpression(node) && EQUALITY.has(node.operatorToken.kind)) {
      if (isName(node.right)) out.push({ literal: node.right, other: node.left, kind: 'equality' });
      if (isName(node.left)) out.push({ literal: node.left, other: node.right, kind: 'equality' });
    } else if (ts.isCaseClause(node) && isName(node.expression)) {
      out.push({ literal: node.expression, other: node.parent.parent.expression, kind: 'case' });
    } else if (ts.isCallExpression(node) && isMembershipCall(node) && isName(node.arguments[0]!)) {
      out.push({ literal: node.arguments[0], other: node, kind: 'call' });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

/** Methods that ask whether a collection holds a value. */
const MEMBERSHIP = new Set(['includes', 'indexOf', 'lastIndexOf', 'has']);

function isMembershipCall(call: ts.CallExpression): boolean {
  return call.arguments.length > 0 && ts.isPropertyAccessExpression(call.expression) && MEMBERSHIP.has(call.expression.name.text);
}

/** The declared type of a call's first parameter (an array's `includes(searchElement: T)`: `T`). */
function firstParameterType(checker: ts.TypeChecker, call: ts.CallExpression): ts.Type | undefined {
  const signature = checker.getResolvedSignature(call);
  const parameter = signature?.parameters[0];
  return parameter === undefined ? undefined : checker.getTypeOfSymbolAtLocation(parameter, call);
}

function isNameTyped(type: ts.Type, names: ReadonlySet<string>): boolean {
  const parts = type.isUnion() ? type.types : [type];
  if (parts.some((t) => t.flags & (ts.TypeFlags.String | ts.TypeFlags.Any))) return true;
  const literals = parts.filter((t): t is ts.StringLiteralType => t.isStringLiteral()).map((t) => t.value);
  return literals.filter((v) => names.has(v)).length >= 2;
}

function tsFiles(dir: string): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : tsFiles(path);
    return e.isFile() && e.name.endsWith('.ts') ? [path] : [];
  });
}

function compilerOptionsOf(rootDir: string): ts.CompilerOptions {
  const configPath = join(rootDir, 'tsconfig.json');
  const read = ts.readConfigFile(configPath, (p) => ts.sys.readFile(p));
  if (read.error) throw new Error(ts.flattenDiagnosticMessageText(read.error.messageText, '\n'));
  return { ...ts.parseJsonConfigFileContent(read.config, ts.sys, rootDir).options, noEmit: true };
}
