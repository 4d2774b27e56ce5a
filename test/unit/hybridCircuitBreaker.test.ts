import { CircuitBreaker, type BreakerState } from '../../client/backends/hybrid/circuitBreaker';
import { ManualClock } from '../contract/backendContract';

describe('CircuitBreaker', () => {
  const make = (clock: ManualClock, changes: string[] = []) =>
    new CircuitBreaker({ failureThreshold: 3, resetMs: 1_000, clock: clock.read, onStateChange: (from: BreakerState, to: BreakerState) => changes.push(`${from}->${to}`) });

  test('stays closed until the failure threshold of consecutive failures is reached', () => {
    const breaker = make(new ManualClock());
    breaker.failure();
    breaker.failure();
    expect(breaker.state).toBe('closed');
    expect(breaker.tryAcquire()).toBe(true);
    breaker.failure();
    expect(breaker.state).toBe('open');
    expect(breaker.tryAcquire()).toBe(false);
    expect(breaker.refused).toBe(1);
  });

  test('a success resets the count of consecutive failures', () => {
    const breaker = make(new ManualClock());
    breaker.failure();
    breaker.failure();
    breaker.success();
    breaker.failure();
    breaker.failure();
    expect(breaker.state).toBe('closed');
  });

  test('after resetMs it lets exactly one probe through, and a good probe closes it', () => {
    const clock = new ManualClock();
    const changes: string[] = [];
    const breaker = make(clock, changes);
    for (let i = 0; i < 3; i++) breaker.failure();
    clock.advance(999);
    expect(breaker.tryAcquire()).toBe(false);
    clock.advance(1);
    expect(breaker.state).toBe('half-open');
    expect(breaker.tryAcquire()).toBe(true);
    expect(breaker.tryAcquire()).toBe(false);
    breaker.success();
    expect(breaker.state).toBe('closed');
    expect(breaker.tryAcquire()).toBe(true);
    expect(changes).toEqual(['closed->open', 'open->half-open', 'half-open->closed']);
  });

  test('a failed probe opens it again for another resetMs', () => {
    const clock = new ManualClock();
    const breaker = make(clock);
    for (let i = 0; i < 3; i++) breaker.failure();
    clock.advance(1_000);
    expect(breaker.tryAcquire()).toBe(true);
    breaker.failure();
    expect(breaker.state).toBe('open');
    expect(breaker.opens).toBe(2);
    clock.advance(500);
    expect(breaker.tryAcquire()).toBe(false);
    clock.advance(500);
    expect(breaker.tryAcquire()).toBe(true);
  });
});
