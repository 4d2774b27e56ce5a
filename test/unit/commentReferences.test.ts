import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import ts from 'typescript';

/**
 * Comments cite only what ships with the code: every file a comment names exists in the
 * repository, every `docs/*.md#anchor` (in a comment or a string: hints and alarm runbooks link
 * there too) names a heading of that page, and no comment sends the reader to this project's
 * issue tracker, which does not ship.
 */
const ROOT = join(__dirname, '../..');
const SOURCE_DIRS = ['client', 'lambda', 'lib', 'bin', 'bench', 'scripts', 'test'];
const SOURCE = /\.(ts|mts|cts|js|mjs|cjs)$/;

/**
 * Paths that comments name on purpose and that are not files of the repository: what the build or
 * a run writes, what the product reads from the user's directory, a file a test writes itself.
 */
const NOT_IN_THE_REPOSITORY: readonly RegExp[] = [
  /^dist\//, // the build's output
  /^bench\/results\/|^latest\.(md|json)$/, // the bench report, written by a run
  /(^|\/)cachevault\.config\.json$/, // the user's config file
  /\*/, // a glob (docs/*.md), not a file
  /^Node\.js$/,
];

/** A file a test writes in its scratch directory, named in that test's comments. */
const SCRATCH_FILES: Readonly<Record<string, readonly string[]>> = {
  'test/integration/packageConsumer.test.ts': ['main.ts'],
};

function sourceFiles(): string[] {
  const files: string[] = [];
  for (const dir of SOURCE_DIRS) {
    for (const entry of readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })) {
      const path = join(dir, entry);
      // bench/results holds what a bench run wrote (third-party Lambda bundles among it), not code of ours.
      if (SOURCE.test(entry) && !entry.includes('node_modules') && !entry.includes('__snapshots__') && !path.startsWith('bench/results/')) files.push(path);
    }
  }
  return files.sort();
}

interface Comment {
  readonly line: number;
  readonly text: string;
}

/** Tokens after which a `/` divides; anywhere else it starts a regular expression. */
const ENDS_AN_OPERAND: ReadonlySet<ts.SyntaxKind> = new Set([
  ts.SyntaxKind.Identifier,
  ts.SyntaxKind.PrivateIdentifier,
  ts.SyntaxKind.ThisKeyword,
  ts.SyntaxKind.SuperKeyword,
  ts.SyntaxKind.NumericLiteral,
  ts.SyntaxKind.BigIntLiteral,
  ts.SyntaxKind.StringLiteral,
  ts.SyntaxKind.RegularExpressionLiteral,
  ts.SyntaxKind.NoSubstitutionTemplateLiteral,
  ts.SyntaxKind.TemplateTail,
  ts.SyntaxKind.CloseParenToken,
  ts.SyntaxKind.CloseBracketToken,
  ts.SyntaxKind.CloseBraceToken,
  ts.SyntaxKind.PlusPlusToken,
  ts.SyntaxKind.MinusMinusToken,
  ts.SyntaxKind.TrueKeyword,
  ts.SyntaxKind.FalseKeyword,
  ts.SyntaxKind.NullKeyword,
]);

/**
 * The comments of a source file, found with TypeScript's scanner (a full parse of every file is
 * several times slower): strings, template literals and regular expressions are skipped whole, so
 * a `//` inside one is not a comment.
 */
function commentsOf(text: string): Comment[] {
  const scanner = ts.createScanner(ts.ScriptTarget.Latest, false, ts.LanguageVariant.Standard, text);
  const comments: Comment[] = [];
  const templates: number[] = []; // brace depth at each open `${`
  let braces = 0;
  let previous = ts.SyntaxKind.Unknown;
  for (let kind = scanner.scan(); kind !== ts.SyntaxKind.EndOfFileToken; kind = scanner.scan()) {
    if (kind === ts.SyntaxKind.SingleLineCommentTrivia || kind === ts.SyntaxKind.MultiLineCommentTrivia) {
      comments.push({ line: text.slice(0, scanner.getTokenStart()).split('\n').length, text: scanner.getTokenText() });
      continue;
    }
    if (kind === ts.SyntaxKind.WhitespaceTrivia || kind === ts.SyntaxKind.NewLineTrivia || kind === ts.SyntaxKind.ShebangTrivia) continue;
    if ((kind === ts.SyntaxKind.SlashToken || kind === ts.SyntaxKind.SlashEqualsToken) && !ENDS_AN_OPERAND.has(previous)) kind = scanner.reScanSlashToken();
    if (kind === ts.SyntaxKind.OpenBraceToken) braces += 1;
    else if (kind === ts.SyntaxKind.TemplateHead) templates.push(braces);
    else if (kind === ts.SyntaxKind.CloseBraceToken) {
      if (templates.length > 0 && templates[templates.length - 1] === braces) {
        kind = scanner.reScanTemplateToken(false);
        if (kind === ts.SyntaxKind.TemplateTail) templates.pop();
      } else braces -= 1;
    }
    previous = kind;
  }
  return comments;
}

/**
 * A path with a file extension, or one that starts with ./ or ../. Not one in quotes (a value: an
 * attack string, a config example) or after a colon (`file:./dir`, a URL).
 */
const PATH = /(?<![\w@/.$:'"-])((?:\.{1,2}\/)?[\w*][\w.*-]*(?:\/[\w.*-]+)*\.(?:md|ts|mts|js|mjs|cjs|json|sh|ya?ml)|\.{1,2}\/[\w.-]+(?:\/[\w.-]+)*)(?![\w/])/g;

/**
 * A comment's path exists relative to the repository root, the file's folder or a folder above it;
 * a bare file name (`cacheFunction.ts`) may name a file anywhere in the source folders.
 */
function resolves(file: string, ref: string): boolean {
  const bases = [ROOT];
  for (let dir = dirname(join(ROOT, file)); dir.startsWith(ROOT); dir = dirname(dir)) bases.push(dir);
  return bases.some((base) => existsSync(join(base, ref))) || (!ref.includes('/') && SOURCE_NAMES.has(ref));
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
function anchorsOf(doc: string): Set<string> {
  const anchors = new Set<string>();
  for (const m of readFileSync(join(ROOT, doc), 'utf8').matchAll(/^#{1,6}\s+(.+?)\s*#*$/gm)) {
    anchors.add(
      m[1]!
        .toLowerCase()
        .replace(/[^\p{L}\p{N}\s_-]/gu, '')
        .replace(/\s/g, '-'),
    );
  }
  return anchors;
}

/** Every source file but this one, whose examples name paths that need not exist. */
const FILES = sourceFiles().filter((f) => join(ROOT, f) !== __filename);
const TEXTS = new Map(FILES.map((f) => [f, readFileSync(join(ROOT, f), 'utf8')]));
const SOURCE_NAMES = new Set(sourceFiles().map((f) => basename(f)));
const COMMENTS = new Map<string, Comment[]>();
function comments(file: string): Comment[] {
  if (!COMMENTS.has(file)) COMMENTS.set(file, commentsOf(TEXTS.get(file)!));
  return COMMENTS.get(file)!;
}

describe('references in the code', () => {
  it('finds the comments of the code base', () => {
    expect(FILES.length).toBeGreaterThan(200);
    expect(FILES.flatMap(comments).length).toBeGreaterThan(2_000);
    // A `//` inside a string, a template or a regular expression is not a comment.
    const code = [
      "const u = 'http://h/x.md'; const r = /a\\/\\/b.md/; // see docs/cli.md",
      'const t = `${u} // ${`${r.source}//`}/*`; /* two',
      'lines */ const q = u.length / 2 / 1; // last',
    ].join('\n');
    expect(commentsOf(code)).toEqual([
      { line: 1, text: '// see docs/cli.md' },
      { line: 2, text: '/* two\nlines */' },
      { line: 3, text: '// last' },
    ]);
  });

  it('names only files that ship with the code in comments', () => {
    const missing: string[] = [];
    for (const file of FILES) {
      for (const comment of comments(file)) {
        for (const m of comment.text.matchAll(PATH)) {
          const ref = m[1]!;
          if (NOT_IN_THE_REPOSITORY.some((p) => p.test(ref)) || SCRATCH_FILES[file]?.includes(ref)) continue;
          const line = comment.line + comment.text.slice(0, m.index).split('\n').length - 1;
          if (!resolves(file, ref)) missing.push(`${file}:${line}: ${ref}`);
        }
      }
    }
    expect(missing).toEqual([]);
  });

  it('links only headings that docs/*.md have, in comments and strings alike', () => {
    const anchors = new Map<string, Set<string>>();
    const broken: string[] = [];
    for (const file of FILES) {
      for (const m of TEXTS.get(file)!.matchAll(/\bdocs\/([\w-]+\.md)(?:#([\w-]+))?/g)) {
        const doc = `docs/${m[1]!}`;
        const line = TEXTS.get(file)!.slice(0, m.index).split('\n').length;
        if (!existsSync(join(ROOT, doc))) {
          broken.push(`${file}:${line}: ${doc} does not exist`);
          continue;
        }
        if (m[2] === undefined) continue;
        if (!anchors.has(doc)) anchors.set(doc, anchorsOf(doc));
        if (!anchors.get(doc)!.has(m[2])) broken.push(`${file}:${line}: ${doc} has no heading #${m[2]}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it("sends no reader to this project's issue tracker, which does not ship", () => {
    const cited: string[] = [];
    for (const file of FILES) {
      for (const comment of comments(file)) {
        // A link to another project's tracker (https://github.com/owner/repo/issues/N) is public; "issue 14" is not.
        if (/(?<!\/)\bissues? #?\d+/i.test(comment.text.replace(/https?:\/\/\S+/g, ''))) cited.push(`${file}:${comment.line}: ${comment.text.split('\n')[0]}`);
      }
    }
    expect(cited).toEqual([]);
  });

  it('reads the anchors GitHub gives headings with code and punctuation', () => {
    const anchors = anchorsOf('docs/key-management.md');
    expect(anchors).toContain('what-retire-destroys-and-what-it-does-not');
    expect(anchors).toContain('replacing-the-local-root-key-cachevault-keys-rotate-root');
  });
});
