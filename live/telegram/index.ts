/** Telegram Bot API notifier: trade messages, periodic summary, chat commands. */
export {
  TelegramNotifier,
  type TelegramCommands,
  type TelegramNotifierOptions,
  type TelegramSettings,
} from './telegram-notifier.ts';
