/** Units CloudWatch accepts (PutMetricData StandardUnit). */
const UNITS = new Set([
  'Seconds', 'Microseconds', 'Milliseconds', 'Bytes', 'Kilobytes', 'Megabytes', 'Gigabytes', 'Terabytes', 'Bits', 'Kilobits', 'Megabits',
  'Gigabits', 'Terabits', 'Percent', 'Count', 'Bytes/Second', 'Kilobytes/Second', 'Megabytes/Second', 'Gigabytes/Second', 'Terabytes/Second',
  'Bits/Second', 'Kilobits/Second', 'Megabits/Second', 'Gigabits/Second', 'Terabits/Second', 'Count/Second', 'None',
]);

/**
 * The rules of the CloudWatch embedded metric format specification, checked on one document:
 * the `_aws` metadata (Timestamp, CloudWatchMetrics directives with Namespace, Dimensions and
 * Metrics), dimension members that are strings, metric members that are numbers or arrays of at
 * most 100 numbers, at most 100 metrics and 30 dimensions per directive. Returns the problems.
 */
export function emfProblems(doc: unknown): string[] {
  const problems: string[] = [];
  const fail = (p: string) => problems.push(p);
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return ['the document is not a JSON object'];
  const root = doc as Record<string, unknown>;
  const aws = root._aws as Record<string, unknown> | undefined;
  if (aws === null || typeof aws !== 'object') return ['no _aws object'];
  if (!Number.isInteger(aws.Timestamp) || (aws.Timestamp as number) < 0) fail('_aws.Timestamp is not a non-negative integer (epoch ms)');
  const directives = aws.CloudWatchMetrics;
  if (!Array.isArray(directives) || directives.length === 0) return [...problems, '_aws.CloudWatchMetrics is not a non-empty array'];
  for (const d of directives as Record<string, unknown>[]) {
    if (typeof d.Namespace !== 'string' || d.Namespace.length === 0 || d.Namespace.length > 255) fail('Namespace is not a 1-255 character string');
    if (!Array.isArray(d.Dimensions)) fail('Dimensions is not an array');
    for (const set of (d.Dimensions as unknown[]) ?? []) {
      if (!Array.isArray(set) || set.length > 30) fail('a DimensionSet is not an array of at most 30 keys');
      for (const key of (set as unknown[]) ?? []) if (typeof key !== 'string' || typeof root[key] !== 'string') fail(`dimension ${String(key)} has no string member`);
    }
    if (!Array.isArray(d.Metrics) || d.Metrics.length > 100) fail('Metrics is not an array of at most 100 definitions');
    const names = new Set<string>();
    for (const m of (d.Metrics as Record<string, unknown>[]) ?? []) {
      if (typeof m.Name !== 'string' || m.Name.length === 0 || m.Name.length > 255) fail('a metric Name is not a 1-255 character string');
      if (names.has(m.Name as string)) fail(`metric ${String(m.Name)} is defined twice`);
      names.add(m.Name as string);
      if (m.Unit !== undefined && !UNITS.has(m.Unit as string)) fail(`metric ${String(m.Name)} has an invalid unit ${String(m.Unit)}`);
      const value = root[m.Name as string];
      const values = Array.isArray(value) ? value : [value];
      if (values.length === 0 || values.length > 100 || !values.every((v) => typeof v === 'number' && Number.isFinite(v))) {
        fail(`metric ${String(m.Name)} has no value, or more than 100, or one that is not a number`);
      }
    }
  }
  return problems;
}
