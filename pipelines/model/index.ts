export * from './market.ts';
export * from './instrument.ts';
export * from './trading.ts';
export * from './events.ts';
