/** The multi-bot orchestrator: app, wallet port and its Aster adapter, and the bot-side client. */
export { buildOrchestratorApp, type OrchestratorOptions, type OrchestratorSettings } from './orchestrator-app.ts';
export type { OrderRequest, DecisionRecord, CancelRequest } from './orchestrator-app.ts';
export { AsterWalletVenue } from './aster-wallet-venue.ts';
export type { WalletVenue, VenueOrderParams, VenueOrderAck, VenuePosition, VenueBalance } from './wallet-venue.ts';
export { OrchestratorClient, orchestratorOrderApi, orderRequestOf, type RouteResult } from './orchestrator-client.ts';
export { checkGuardrails, type WalletLimits, type GuardrailVerdict } from './guardrails.ts';
