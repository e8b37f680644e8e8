import type { Logger } from '../logger.ts';
import type { AlertChannel, GroupNotification, Severity } from './channel.ts';

/**
 * Alert notifications written to the log (standard error): the channel that always works, used
 * when nothing else is configured and, by the engine, as the fallback for a channel that fails.
 * Firing notices are warnings, resolutions info.
 */
export class LogChannel implements AlertChannel {
  readonly name: string;
  readonly minSeverity: Severity;
  private readonly logger: Logger;

  constructor(logger: Logger, options: { name?: string; minSeverity?: Severity } = {}) {
    this.logger = logger;
    this.name = options.name ?? 'console';
    this.minSeverity = options.minSeverity ?? 'LOW';
  }

  async send(notification: GroupNotification): Promise<void> {
    logNotification(this.logger, notification);
  }
}

/** One log line for a notification: its title and text, and the alerts' identities. */
export function logNotification(logger: Logger, notification: GroupNotification, fields: Record<string, unknown> = {}): void {
  const line = {
    ...fields,
    notification: notification.id,
    group: notification.groupKey,
    kind: notification.kind,
    severity: notification.severity,
    text: notification.text,
    alerts: notification.alerts.map((alert) => `${alert.type}/${alert.key} ${alert.state}`),
  };
  if (notification.kind === 'resolved') logger.info(`alert ${notification.title}`, line);
  else logger.warn(`alert ${notification.title}`, line);
}
