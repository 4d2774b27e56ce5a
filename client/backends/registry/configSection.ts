/**
 * A backend's own section of a config (`config[type]`). The config schema gives every
 * registered type a section of that name, so this is where a definition's `create`, `tiersOf`,
 * `spec` and `localPath` get their `section` argument.
 */
export function sectionOf(config: object, type: string): unknown {
  return (config as Record<string, unknown>)[type];
}
