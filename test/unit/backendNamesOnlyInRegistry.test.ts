import { backendRegistry } from '../../client/backends/registry';
import { findNameComparisons, formatNameComparison } from '../support/literalNameComparisons';

// Type-checking the candidate files pulls in their imports (the AWS SDK's types among them).
const TYPE_CHECK_TIMEOUT_MS = 180_000;

describe('backend type names', () => {
  it(
    'are compared to string literals only inside the backend registry, so adding a backend touches no switch elsewhere',
    () => {
      const found = findNameComparisons({
        names: backendRegistry.names,
        roots: ['client', 'lambda', 'lib', 'bin'],
        allowedPaths: ['client/backends/registry/'],
      });
      expect(found.map(formatNameComparison)).toEqual([]);
    },
    TYPE_CHECK_TIMEOUT_MS,
  );
});
