import type { OperatorFunction } from 'rxjs';
import type { CancelOrder, Order, OrderIntent, PipelineEvent, ProtectIntent } from '../../pipelines/model/index.ts';
import type { VenueRequest } from '../../pipelines/ports.ts';
import { defineStage, NO_STATE, pickSettings, type Stage } from '../../pipelines/stage.ts';
import { stageOperator } from '../../pipelines/stage-runner.ts';
import { clientOrderId } from './client-order-id.ts';
import { ExecutionSettings } from './execution.settings.ts';

export interface ExecutionDeps {
  /** hands an order (or an operator's cancel) to the venue; must not emit synchronously into the pipeline */
  submit(request: VenueRequest): void;
  maxSlippageBps: number;
}

/**
 * Turns approved intents into venue orders: MARKET for entries and exits (entries carry the
 * slippage guard, exits never do: getting out matters more than the price), and for protect
 * intents a reduce-only STOP_MARKET plus TAKE_PROFIT_MARKET that close the whole position.
 * An operator's cancel-order request goes on to the venue as it is (the venue answers with an
 * order-rejected event once the order is withdrawn).
 * Emits: every input unchanged, then each Order as it is submitted.
 */
export function executionStage(
  s: ExecutionSettings,
  deps: ExecutionDeps,
): Stage<'intent' | 'protect' | 'cancel-order'> {
  return defineStage({
    name: 'execution',
    consumes: ['intent', 'protect', 'cancel-order'],
    produces: ['order'],
    settings: { ...pickSettings(s, ExecutionSettings), MAX_SLIPPAGE_BPS: deps.maxSlippageBps },
    open(emit) {
      const send = (o: Order): void => {
        emit(o);
        deps.submit(o);
      };
      return {
        ...NO_STATE,
        next(e: OrderIntent | ProtectIntent | CancelOrder) {
          emit(e);
          if (e.kind === 'cancel-order') {
            deps.submit(e);
          } else if (e.kind === 'intent') {
            send({
              kind: 'order',
              time: e.time,
              symbol: e.symbol,
              clientOrderId: e.clientOrderId,
              side: e.side,
              type: 'MARKET',
              quantity: e.quantity,
              reduceOnly: e.reduceOnly,
              stopPrice: 0,
              refPrice: e.refPrice,
              maxSlippageBps: e.reduceOnly ? 0 : deps.maxSlippageBps,
              reason: e.reason,
              explored: e.explored === true,
            });
          } else if (e.kind === 'protect') {
            const side = e.positionSide === 'LONG' ? 'SELL' : 'BUY';
            send({
              kind: 'order',
              time: e.time,
              symbol: e.symbol,
              clientOrderId: clientOrderId(s.BOT_ID, e.symbol, e.decisionSeq, `s${e.generation}`),
              side,
              type: 'STOP_MARKET',
              quantity: 0,
              reduceOnly: true,
              stopPrice: e.stopPrice,
              refPrice: e.stopPrice,
              maxSlippageBps: 0,
              reason: e.cause === 'trail' ? 'trailing-stop' : 'stop',
            });
            if (e.cause === 'initial' && e.takeProfitPrice > 0) {
              send({
                kind: 'order',
                time: e.time,
                symbol: e.symbol,
                clientOrderId: clientOrderId(s.BOT_ID, e.symbol, e.decisionSeq, 't'),
                side,
                type: 'TAKE_PROFIT_MARKET',
                quantity: 0,
                reduceOnly: true,
                stopPrice: e.takeProfitPrice,
                refPrice: e.takeProfitPrice,
                maxSlippageBps: 0,
                reason: 'take-profit',
              });
            }
          }
        },
      };
    },
  });
}

export function execution(s: ExecutionSettings, deps: ExecutionDeps): OperatorFunction<PipelineEvent, PipelineEvent> {
  return stageOperator(executionStage(s, deps));
}
