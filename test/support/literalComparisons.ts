/**
 * Finds code that compares a value of a closed set of names (key-provider names, backend types)
 * to a string literal: `x === 'kms'`, `x !== 'kms'`, `case 'kms':`, `xs.includes('kms')`,
 * `set.has('kms')`. Such a comparison is knowledge about one name living outside its registry.
 *
 * It uses the type checker, so it flags a comparison only when the compared value's type is made
 * of those names alone (the name type itself, a subset such as `'keyring' | 'env'`, optionally
 * with `undefined`/`null`). `manifest.store === 'file'` (type `'file' | 'secretsmanager'`) or
 * `process.argv[2] === 'env'` (type `string`) are not flagged: they are other vocabularies that
 * happen to share a word. The price is that a name held in a plain `string` escapes the check;
 * the registries type their names, so names flow typed.
 */
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

export interface LiteralComparison {
  /** Repository-relative path. */
  readonly file: string;
  readonly line: number;
  /** The literal compared against. */
  readonly name: string;
  /** The comparison's source text, for the failure message. */
  readonly text: string;
}

export interface LiteralComparisonOptions {
  /** The closed set of names (e.g. KEY_PROVIDER_NAMES). */
  readonly names: readonly string[];
  /**
   * Repository-relative files allowed to compare (the registry itself); files outside the
   * repository by absolute path. An entry ending in `/` allows a whole folder.
   */
  readonly allowedFiles?: readonly string[];
  /**
   * Which values count as typed by the names. `names` (the default): types made of the names
   * alone, as above. `wide`: also unions that mix two or more of the names with other words
   * (`'file' | 'dynamodb' | 'all'`, a CLI option naming tiers) and plain `string`/`any` values
   * (`backend.name`, a `string` on the CacheBackend interface), which a type cannot tell from a
   * name; for names that are not common words (the backend types). A type sharing only one word
   * with the names (`manifest.store: 'file' | 'secretsmanager'`) is still another vocabulary.
   */
  readonly typed?: 'names' | 'wide';
}

const REPO = join(__dirname, '..', '..');
const EQUALITY = new Set([ts.SyntaxKind.EqualsEqualsEqualsToken, ts.SyntaxKind.ExclamationEqualsEqualsToken, ts.SyntaxKind.EqualsEqualsToken, ts.SyntaxKind.ExclamationEqualsToken]);
const MEMBERSHIP = new Set(['includes', 'indexOf', 'lastIndexOf', 'has']);
const programs = new Map<string, ts.Program>();

/** A program over every .ts file under `roots` (repository-relative folders), with the repo's compiler options; cached per root list. */
export function repositoryProgram(roots: readonly string[]): ts.Program {
  const key = [...roots].sort().join('\n');
  const cached = programs.get(key);
  if (cached) return cached;
  const config = ts.getParsedCommandLineOfConfigFile(join(REPO, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => { throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n')); } });
  if (!config) throw new Error('could not read tsconfig.json');
  const files = roots.flatMap((root) => tsFilesUnder(join(REPO, root)));
  const program = ts.createProgram({ rootNames: files, options: { ...config.options, noEmit: true } });
  programs.set(key, program);
  return program;
}

/** A program over in-memory sources (path -> text), for testing the check itself. */
export function sourcesProgram(sources: Readonly<Record<string, string>>): ts.Program {
  const options: ts.CompilerOptions = { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.Preserve, moduleResolution: ts.ModuleResolutionKind.Bundler, strict: true, noEmit: true, lib: ['lib.es2023.d.ts'], types: [] };
  const host = ts.createCompilerHost(options);
  const read = host.getSourceFile.bind(host);
  host.getSourceFile = (name, version, onError) => {
    const text = sources[name];
    return text !== undefined ? ts.createSourceFile(name, text, version) : read(name, version, onError);
  };
  const exists = host.fileExists.bind(host);
  host.fileExists = (name) => name in sources || exists(name);
  return ts.createProgram({ rootNames: Object.keys(sources), options, host });
}

/** Every comparison of a value typed by `names` to one of them as a literal, outside `allowedFiles`. */
export function findLiteralComparisons(program: ts.Program, options: LiteralComparisonOptions): LiteralComparison[] {
  const names = new Set(options.names);
  const allowedFiles = options.allowedFiles ?? [];
  const isAllowed = (file: string): boolean => allowedFiles.some((a) => (a.endsWith('/') ? file.startsWith(a) : file === a));
  const checker = program.getTypeChecker();
  const found: LiteralComparison[] = [];
  const isNameLiteral = (node: ts.Node): node is ts.StringLiteral | ts.NoSubstitutionTemplateLiteral =>
    (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) && names.has(node.text);
  /** Every member of the type is one of the names (undefined/null aside), and at least one is. */
  const isNameType = (type: ts.Type | undefined): boolean => {
    if (!type) return false;
    const members = type.isUnion() ? type.types : [type];
    if (options.typed === 'wide' && isWideNameType(members)) return true;
    let named = 0;
    for (const member of members) {
      if (member.flags & (ts.TypeFlags.Undefined | ts.TypeFlags.Null)) continue;
      if (!member.isStringLiteral() || !names.has(member.value)) return false;
      named += 1;
    }
    return named > 0;
  };

  for (const source of program.getSourceFiles()) {
    if (source.isDeclarationFile || program.isSourceFileFromExternalLibrary(source)) continue;
    const inRepo = relative(REPO, source.fileName).split('\\').join('/');
    const file = inRepo.startsWith('..') ? source.fileName : inRepo;
    if (isAllowed(file)) continue;
    const report = (node: ts.Node, literal: string) =>
      found.push({ file, line: source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1, name: literal, text: node.getText(source) });
    const visit = (node: ts.Node): void => {
      if (ts.isBinaryExpression(node) && EQUALITY.has(node.operatorToken.kind)) {
        const [literal, other] = isNameLiteral(node.right) ? [node.right, node.left] : isNameLiteral(node.left) ? [node.left, node.right] : [];
        if (literal && other && isNameType(checker.getTypeAtLocation(other))) report(node, literal.text);
      } else if (ts.isCaseClause(node) && isNameLiteral(node.expression)) {
        const subject = node.parent.parent.expression;
        if (isNameType(checker.getTypeAtLocation(subject))) report(node, node.expression.text);
      } else if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression) && MEMBERSHIP.has(node.expression.name.text)) {
        const [arg] = node.arguments;
        // The parameter's type is the element type of the array or set: `KeyProviderName[]#includes(x: KeyProviderName)`.
        if (arg && isNameLiteral(arg) && isNameType(checker.getContextualType(arg))) report(node, arg.text);
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return found;

  function isWideNameType(members: readonly ts.Type[]): boolean {
    if (members.some((m) => m.flags & (ts.TypeFlags.String | ts.TypeFlags.Any))) return true;
    return members.filter((m) => m.isStringLiteral() && names.has(m.value)).length >= 2;
  }
}

/** One line per comparison, for a failure message a reader can act on. */
export function formatLiteralComparisons(found: readonly LiteralComparison[]): string {
  return found.map((c) => `${c.file}:${c.line}: ${c.text}`).join('\n');
}

function tsFilesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : tsFilesUnder(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}
