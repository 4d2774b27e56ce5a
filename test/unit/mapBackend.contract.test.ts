import { randomUUID } from 'node:crypto';
import { runBackendContract } from '../contract/backendContract';
import { MapBackend } from '../support/mapBackend';

runBackendContract('map (test-only, registered like any backend)', ({ clock }) => new MapBackend({ store: randomUUID(), maxEntries: 1_000_000, clock }));
