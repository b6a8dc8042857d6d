import { describe, expect, it } from 'vitest';
import { clientOrderId, decisionSeq } from '../../../operators/execution/client-order-id.ts';

describe('client order ids', () => {
  it('are derived from the decision bar, so a restart recomputes the same id', () => {
    const t = Date.UTC(2025, 0, 28, 12, 5);
    expect(clientOrderId('sapphire', 'BTCUSDT', decisionSeq(t), 'e')).toBe(
      clientOrderId('sapphire', 'BTCUSDT', decisionSeq(t), 'e'),
    );
    expect(clientOrderId('sapphire', 'BTCUSDT', decisionSeq(t), 'e')).not.toBe(
      clientOrderId('sapphire', 'BTCUSDT', decisionSeq(t + 300_000), 'e'),
    );
  });

  it('stay within 36 characters of the allowed alphabet, even for long symbols and bot ids', () => {
    const id = clientOrderId('abcdefghijkl', '1000000SHIBPEPEUSDT', decisionSeq(Date.UTC(2030, 0, 1)), 's123');
    expect(id.length).toBeLessThanOrEqual(36);
    expect(id).toMatch(/^[.A-Z:/a-z0-9_-]{1,36}$/);
  });
});
