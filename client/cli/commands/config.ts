/** `cachevault config show|validate|set|unset|test`. Every value shown is redacted (config/redact.ts). */
import type { Command } from 'commander';
import { z } from 'zod';
import { configLeaves, envVarName, loadConfig } from '../../config/loadConfig';
import { redactConfigValue, redactText } from '../../config/redact';
import { ExitCode } from '../../errors';
import { defineAction, type Runtime } from '../command';
import { configFileTarget, parseConfigValue, removeConfigValue, writeConfigValue } from '../configEditor';
import { probeConfiguration } from '../configProbe';
import { keyValues, table } from '../output';

const NoOptions = z.object({});

/** One leaf of the merged configuration, as `config show --json` prints it. */
export interface ConfigValue {
  readonly path: string;
  readonly value: unknown;
  /** `default`, `file:<path>`, `env:<VARIABLE>` or `options`. */
  readonly source: string;
  readonly env: string;
}

export function registerConfig(program: Command, runtime: Runtime): void {
  const config = program.command('config').description('show, validate, change and test the configuration');

  defineAction(
    runtime,
    config.command('show').description('the merged configuration with the source of each value (secrets redacted)'),
    NoOptions,
    async (ctx) => {
      const loaded = ctx.config();
      const values: ConfigValue[] = configLeaves().map((leaf) => {
        const raw = getPath(loaded.config, leaf.path);
        return {
          path: leaf.path,
          value: raw === undefined ? null : redactConfigValue(leaf.path, raw),
          source: loaded.sources.get(leaf.path) ?? 'default',
          env: envVarName(leaf.path),
        };
      });
      ctx.out.result({ file: loaded.file ?? null, values, warnings: loaded.warnings }, (d) =>
        [
          `config file: ${d.file ?? '(none; defaults and environment only)'}`,
          '',
          table(d.values.map((v) => ({ key: v.path, value: v.value === null ? '(unset)' : JSON.stringify(v.value), source: v.source }))),
        ].join('\n'),
      );
      return ExitCode.ok;
    },
  );

  defineAction(
    runtime,
    config.command('validate').argument('[file]', 'config file to check (default: the one in use)').description('check a config file without starting anything'),
    NoOptions,
    async (ctx, _opts, [file]) => {
      // Only the file is checked: the environment must not mask (or cause) problems in it.
      const loaded = loadConfig({ file: file ?? ctx.globals.config ?? ctx.env.CACHEVAULT_CONFIG, env: {}, cwd: ctx.io.cwd });
      for (const w of loaded.warnings) ctx.warnOnce(w);
      ctx.out.result({ valid: true, file: loaded.file ?? null, warnings: loaded.warnings }, (d) =>
        d.file ? `${d.file} is valid.` : 'No config file found; the defaults are valid.',
      );
      return ExitCode.ok;
    },
  );

  defineAction(
    runtime,
    config
      .command('set')
      .argument('<key>', 'dotted key, e.g. file.maxBytes')
      .argument('<value>', 'new value (numbers, true/false, comma lists or JSON arrays, null where allowed)')
      .description('set one value in the config file (validated before writing)'),
    NoOptions,
    async (ctx, _opts, [key, raw]) => {
      const file = configFileTarget(ctx.globals.config, ctx.env, ctx.io.cwd);
      const value = parseConfigValue(key!, raw!);
      const { created } = writeConfigValue(file, key!, value);
      ctx.out.result({ file, key: key!, value: redactConfigValue(key!, value), created }, (d) =>
        `${d.created ? 'Created' : 'Updated'} ${d.file}: ${d.key} = ${JSON.stringify(d.value)}`,
      );
      return ExitCode.ok;
    },
  );

  defineAction(
    runtime,
    config
      .command('unset')
      .argument('<key>', 'dotted key, e.g. file.maxBytes')
      .description('remove one value from the config file, so its default (or the environment) applies again'),
    NoOptions,
    async (ctx, _opts, [key]) => {
      const file = configFileTarget(ctx.globals.config, ctx.env, ctx.io.cwd);
      parseConfigValue(key!, 'null', { checkOnly: true });
      const { removed } = removeConfigValue(file, key!);
      ctx.out.result({ file, key: key!, removed }, (d) => (d.removed ? `Removed ${d.key} from ${d.file}; the default applies again.` : `${d.key} was not set in ${d.file}; nothing changed.`));
      return ExitCode.ok;
    },
  );

  defineAction(
    runtime,
    config.command('test').description('try each configured backend and key provider and say what works'),
    NoOptions,
    async (ctx) => {
      const probed = await probeConfiguration(ctx.config().config, ctx.loadOptions());
      // Details quote the errors of the services tried, which may name an endpoint with its password.
      const report = { ...probed, checks: probed.checks.map((c) => (c.detail === undefined ? c : { ...c, detail: redactText(c.detail) })) };
      ctx.out.result(report, (r) =>
        [
          keyValues({ backend: r.backend, 'all working': r.ok }),
          '',
          table(r.checks.map((c) => ({ component: c.component, name: c.name, ok: c.ok ? 'yes' : 'NO', detail: c.detail ?? '' }))),
        ].join('\n'),
      );
      if (report.ok) return ExitCode.ok;
      return report.checks.some((c) => c.ok) ? ExitCode.partial : ExitCode.failure;
    },
  );
}

function getPath(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const p of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
}
