import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { fixtureColumns } from '../../kit/fixture-bars.ts';
import {
  startExchangeSimulator,
  type ExchangeSimulator,
  type SimulatorOptions,
} from '../../../simulator/start-simulator.ts';
import { AsterRestClient, type AsterRestClientOptions } from '../../../live/aster/rest-client.ts';

/** The Aster client against the exchange simulator over loopback sockets, per signing version. */

export type Version = 'V1' | 'V3';
export const BTC = fixtureColumns('BTCUSDT');
export const ETH = fixtureColumns('ETHUSDT');
/** bars released at start: the market's "now" is the close of bar START */
export const START = 300;

export interface Peer {
  sim: ExchangeSimulator;
  client: AsterRestClient;
  /** the simulator's account id for these credentials (state(account)) */
  account: string;
  version: Version;
  /** what a second client with the same credentials needs */
  clientOptions: AsterRestClientOptions;
}

/** fresh keys per peer: V1 random key/secret, V3 a viem-generated API wallet registered in the simulator */
export async function startPeer(
  version: Version,
  extra: Partial<SimulatorOptions> = {},
  clientExtra: Partial<AsterRestClientOptions> = {},
): Promise<Peer> {
  const tag = Math.random().toString(36).slice(2);
  if (version === 'V1') {
    const apiKey = `sim-key-${tag}`;
    const secretKey = `sim-secret-${tag}-not-real`;
    const sim = await startExchangeSimulator({
      series: [BTC, ETH],
      replayMs: 0,
      startIndex: START,
      initialBalance: 10_000,
      credentials: [{ apiKey, secretKey }],
      ...extra,
    });
    const clientOptions: AsterRestClientOptions = {
      baseUrl: sim.restUrl,
      credentials: { kind: 'hmac', apiKey, secretKey },
      timeoutMs: 5_000,
      ...clientExtra,
    };
    return { sim, client: new AsterRestClient(clientOptions), account: apiKey, version, clientOptions };
  }
  const signerKey = generatePrivateKey();
  const signer = privateKeyToAccount(signerKey).address;
  const user = privateKeyToAccount(generatePrivateKey()).address;
  const sim = await startExchangeSimulator({
    series: [BTC, ETH],
    replayMs: 0,
    startIndex: START,
    initialBalance: 10_000,
    v3Credentials: [{ user, signer }],
    ...extra,
  });
  const clientOptions: AsterRestClientOptions = {
    baseUrl: sim.restUrl,
    credentials: { kind: 'eip712', user, signer, privateKey: signerKey, chainId: 1666 },
    timeoutMs: 5_000,
    ...clientExtra,
  };
  return { sim, client: new AsterRestClient(clientOptions), account: user.toLowerCase(), version, clientOptions };
}

/** client order ids of every order the exchange holds for the account (duplicates show twice) */
export function exchangeClientIds(p: Peer): string[] {
  return p.sim.state(p.account).orders.map((o) => o.clientOrderId);
}

/** Polls `check` (bounded in count) until it is true. */
export async function eventually(check: () => boolean | Promise<boolean>, tries = 100, everyMs = 50): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error('condition not reached');
}
