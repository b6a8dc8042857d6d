import { z } from 'zod';
import { str } from '../../pipelines/settings-kit.ts';

export const ExecutionSettings = z.object({
  BOT_ID: str(
    'sapphire',
    'prefix of every client order id ({BOT_ID}-{symbol}-{seq}); distinct per bot sharing a wallet',
    { regex: /^[A-Za-z0-9_]{1,12}$/, rule: '1–12 letters, digits or _ (client order ids must stay ≤ 36 chars)' },
  ),
});
export type ExecutionSettings = z.infer<typeof ExecutionSettings>;
