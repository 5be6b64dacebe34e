/** The instance status the dashboard shows: a killed instance (state still `active`) shows as dead once its heartbeat is older than the lease TTL. */
import { describe, expect, it } from 'vitest';
import { instanceStatusLabel } from '#coordinator/dashboard/cluster_view.ts';

describe('instanceStatusLabel', () => {
  it('shows the state while the heartbeat is fresh', () => {
    expect(instanceStatusLabel({ id: 'a', state: 'active', heartbeatAgeMs: 3999 }, 4000)).toBe('active');
    expect(instanceStatusLabel({ id: 'a', state: 'starting', heartbeatAgeMs: 10 }, 4000)).toBe('starting');
    expect(instanceStatusLabel({ id: 'a', state: 'draining', heartbeatAgeMs: 10 }, 4000)).toBe('draining');
  });
  it('shows a kill -9ed instance (still active, heartbeat past the TTL) as dead', () => {
    expect(instanceStatusLabel({ id: 'a', state: 'active', heartbeatAgeMs: 4001 }, 4000)).toBe(
      'dead (heartbeat expired)',
    );
    expect(instanceStatusLabel({ id: 'a', state: 'draining', heartbeatAgeMs: 60_000 }, 4000)).toBe(
      'dead (heartbeat expired)',
    );
  });
  it('keeps a cleanly stopped instance as stopped', () => {
    expect(instanceStatusLabel({ id: 'a', state: 'stopped', heartbeatAgeMs: 60_000 }, 4000)).toBe('stopped');
  });
});
