import type { FastifyPluginAsync } from 'fastify';
import type { Settings } from '../../pipelines/settings.ts';
import type { ClockPort } from '../../pipelines/ports.ts';
import type { PipelineEvent } from '../../pipelines/model/index.ts';
import type { TradingEngine } from '../engine/trading-engine.ts';
import type { ServiceMetrics } from '../telemetry/metrics.ts';
import type { StreamStore } from '../telemetry/streams.ts';
import type { SystemProbe } from './views.ts';
import type { ChatProxyOptions } from './chat-proxy.ts';

/** What the service's HTTP app and its route plugins are built from (its own module: no cycle). */
export interface AppOptions {
  settings: Settings;
  engine: TradingEngine;
  streams: StreamStore;
  metrics: ServiceMetrics;
  clock: ClockPort;
  probe: SystemProbe;
  /** the dashboard page and reports (GET /, /assets/*, /reports/*) */
  dashboard?: FastifyPluginAsync<{ reportsDir: string }>;
  reportsDir?: string;
  listReports?: () => string[];
  /** subscribe to live pipeline events (for /events); returns an unsubscribe function */
  onEvents: (listener: (e: PipelineEvent) => void) => () => void;
  chat?: ChatProxyOptions;
  logger?: boolean;
}
