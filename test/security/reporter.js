/* global module, process */
'use strict';

/**
 * Jest reporter for the adversarial suite (test/security/, docs/security.md). Jest loads
 * reporters with a plain `require`, so this one is JavaScript.
 *
 * It reads the results of every test file under `<rootDir>/test/security/` and prints one row per
 * attack class (a file's top-level describe): how many attempts (tests) ran and how many held
 * (passed). It ends with exactly `security: N attempts, N held, N broken`.
 *
 * An attempt that did not pass is broken, whatever the reason: failed, skipped, todo, or a test
 * file that could not run (counted as one broken attempt under its file name). A skipped attack
 * proves nothing, so it is not allowed to look like a pass; when anything is broken this reporter
 * fails the run (`getLastError`), so `it.skip` in the suite cannot go unnoticed. The exception is
 * a run filtered by test name (`-t`), where jest itself skips what does not match.
 *
 * Prints nothing when no security file ran (e.g. `jest --selectProjects unit`).
 */
class SecurityReporter {
  constructor(globalConfig) {
    this.globalConfig = globalConfig;
    this.error = undefined;
  }

  onRunComplete(_testContexts, aggregated) {
    const summary = summarize(aggregated.testResults, this.globalConfig.rootDir, {
      filtered: Boolean(this.globalConfig.testNamePattern),
    });
    if (summary === undefined) return;
    // With `--json` and no --outputFile, stdout carries jest's JSON: keep it parseable.
    const stream = this.globalConfig.json && !this.globalConfig.outputFile ? process.stderr : process.stdout;
    stream.write(`${format(summary)}\n`);
    if (summary.broken > 0 && !summary.filtered) {
      this.error = new Error(`security: ${summary.broken} attempt${summary.broken === 1 ? '' : 's'} broken (failed, skipped or not run); see the table above.`);
    }
  }

  getLastError() {
    return this.error;
  }
}

/**
 * Counts attempts per attack class. Returns undefined when no file under test/security/ ran.
 * @param {ReadonlyArray<{ testFilePath: string, testExecError?: unknown, failureMessage?: string | null, testResults: ReadonlyArray<{ ancestorTitles: string[], title: string, fullName?: string, status: string }> }>} testResults
 * @param {string} rootDir
 * @param {{ filtered?: boolean }} [options]
 */
function summarize(testResults, rootDir, options = {}) {
  const prefix = `${rootDir.replace(/[\\/]+$/, '')}/test/security/`.replace(/\\/g, '/');
  const classes = new Map();
  const notHeld = [];
  let files = 0;
  const row = (name) => {
    let r = classes.get(name);
    if (!r) {
      r = { name, attempts: 0, held: 0 };
      classes.set(name, r);
    }
    return r;
  };
  for (const file of testResults) {
    const path = file.testFilePath.replace(/\\/g, '/');
    if (!path.startsWith(prefix)) continue;
    files += 1;
    const relative = path.slice(prefix.length);
    if (file.testExecError || (file.testResults.length === 0 && file.failureMessage)) {
      // The file did not run (syntax error, a throwing beforeAll with no tests reported...).
      const r = row(`(could not run) ${relative}`);
      r.attempts += 1;
      notHeld.push({ name: relative, status: 'not run' });
      continue;
    }
    for (const test of file.testResults) {
      if (options.filtered && (test.status === 'pending' || test.status === 'skipped')) continue;
      const name = test.ancestorTitles.length > 0 ? test.ancestorTitles[0] : `(no describe) ${relative}`;
      const r = row(name);
      r.attempts += 1;
      if (test.status === 'passed') r.held += 1;
      else notHeld.push({ name: [...test.ancestorTitles, test.title].join(' > '), status: test.status });
    }
  }
  if (files === 0) return undefined;
  const rows = [...classes.values()].sort((a, b) => a.name.localeCompare(b.name));
  const attempts = rows.reduce((n, r) => n + r.attempts, 0);
  const held = rows.reduce((n, r) => n + r.held, 0);
  return { rows, attempts, held, broken: attempts - held, notHeld, filtered: Boolean(options.filtered) };
}

/** The table and the final line, as printed (markdown-compatible, so it pastes into docs). */
function format(summary) {
  const header = ['attack class', 'attempts', 'held'];
  const body = summary.rows.map((r) => [r.name, String(r.attempts), String(r.held)]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((cells) => cells[i].length)));
  const line = (cells) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  const out = ['', line(header), rule, ...body.map(line), ''];
  if (summary.notHeld.length > 0) {
    out.push('not held:');
    for (const n of summary.notHeld) out.push(`  - [${n.status}] ${n.name}`);
    out.push('');
  }
  if (summary.filtered) out.push('(filtered by test name: skipped attempts are not counted)');
  out.push(`security: ${summary.attempts} attempts, ${summary.held} held, ${summary.broken} broken`);
  return out.join('\n');
}

module.exports = SecurityReporter;
module.exports.summarize = summarize;
module.exports.format = format;
