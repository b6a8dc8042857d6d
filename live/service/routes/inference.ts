import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import type { AppOptions } from '../app-options.ts';
import { proxyChat } from '../chat-proxy.ts';
import { badRequest } from '../http/errors.ts';

const ChatBody = z.strictObject({
  messages: z
    .array(z.strictObject({ role: z.enum(['system', 'user', 'assistant']), content: z.string().max(16_000) }))
    .min(1)
    .max(50),
  max_tokens: z.number().int().min(1).max(4096).optional(),
  temperature: z.number().min(0).max(2).optional(),
});

/** External decisions and the model proxy (admin scope): POST /inference/decisions, /inference/chat. */
export const inferenceRoutes: FastifyPluginAsync<AppOptions> = async (app, { engine, settings, chat }) => {
  const DecisionBody = z.strictObject({
    symbol: z.enum(settings.SYMBOLS as [string, ...string[]]),
    action: z.enum(['enter-long', 'enter-short', 'exit']),
    confidence: z.number().min(0).max(1),
    reason: z.string().min(1).max(500).default('external decision'),
  });
  app.post('/inference/decisions', async (request, reply) => {
    const body = DecisionBody.safeParse(request.body ?? {});
    if (!body.success) return badRequest(reply, 'body', body.error);
    if (!engine.started) return reply.code(409).send({ error: 'conflict', message: 'the engine has not started yet' });
    const outcome = await engine.submitDecision(body.data);
    return reply.code(outcome.accepted ? 202 : 200).send({
      accepted: outcome.accepted,
      reason: outcome.reason ?? null,
      stages: outcome.events.map((e) => ({
        kind: e.kind,
        ...(e.kind === 'denied' ? { stage: e.stage, rule: e.rule, detail: e.detail } : {}),
        ...(e.kind === 'order' || e.kind === 'intent'
          ? { client_order_id: e.clientOrderId, side: e.side, quantity: e.quantity }
          : {}),
      })),
    });
  });

  app.post('/inference/chat', async (request, reply) => {
    const body = ChatBody.safeParse(request.body ?? {});
    if (!body.success) return badRequest(reply, 'body', body.error);
    if (!chat || chat.endpoint === '') {
      return reply
        .code(503)
        .send({ error: 'not_configured', message: 'no model endpoint is configured (FINGPT_ENDPOINT)' });
    }
    const answer = await proxyChat(chat, body.data);
    return reply.code(answer.status).send(answer.body);
  });
};
