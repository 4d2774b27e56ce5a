import { FileBackend } from '../../client/backends/fileBackend';
import { HybridBackend } from '../../client/backends/hybridBackend';
import { MemoryBackend } from '../../client/backends/memoryBackend';
import { nonNegativeOption, positiveOption } from '../../client/backends/backendOptions';
import { InvalidArgumentError } from '../../client/errors';

describe('backend numeric options', () => {
  it('counts must be positive whole numbers and durations positive milliseconds, in every backend alike', () => {
    expect(positiveOption('X', 'n', undefined, 5)).toBe(5);
    expect(() => positiveOption('X', 'n', 2.5, 5)).toThrow(/X option n must be a positive integer, got 2.5/);
    expect(positiveOption('X', 't', 2.5, 5, 'duration')).toBe(2.5);
    expect(() => positiveOption('X', 't', 0, 5, 'duration')).toThrow(InvalidArgumentError);
    expect(nonNegativeOption('X', 't', 0, 5, 'duration')).toBe(0);
    expect(() => nonNegativeOption('X', 't', Number.NaN, 5, 'duration')).toThrow(/zero or a positive number of milliseconds/);
  });

  it('a fractional count is refused by the file and the hybrid backend with the same message shape', () => {
    expect(() => new FileBackend({ dir: '/nonexistent-never-created', maxEntries: 1.5 })).toThrow(/FileBackend option maxEntries must be a positive integer, got 1.5/);
    expect(() => new HybridBackend({ tiers: [{ name: 'memory', backend: new MemoryBackend() }], breakerFailureThreshold: 1.5 })).toThrow(
      /HybridBackend option breakerFailureThreshold must be a positive integer, got 1.5/,
    );
  });
});
