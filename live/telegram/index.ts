/** Telegram Bot API notifier: trade messages, periodic summary, chat commands. */
export {
  TelegramNotifier,
  type TelegramCommands,
  type TelegramNotifierOptions,
  type TelegramSettings,
  type TelegramTimers,
} from './telegram-notifier.ts';
