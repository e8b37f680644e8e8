export {
  SEVERITIES,
  isSeverity,
  severityRank,
  type AlertChannel,
  type GroupNotification,
  type NotificationKind,
  type NotifiedAlert,
  type Severity,
} from './channel.ts';
export { AlertService, type AlertServiceDeps, type RaiseAlert } from './alert-service.ts';
export { AlertNotifier, CHANNEL_FAILING, DEFAULT_DELIVERY_TUNING, type AlertNotifierDeps, type DeliveryTuning, type NotifyReport } from './notifier.ts';
export { DEFAULT_ALERT_POLICY, groupOf, isSilenced, planChannel, repeatIntervalOf, silenceMatches, type AlertPolicy, type ChannelMemory, type ChannelPlan } from './policy.ts';
export { LogChannel, logNotification } from './log-channel.ts';
export { GROUP_PHRASES, notificationTexts, type GroupPhrase } from './notification-text.ts';
export { alertToJson } from './alert-json.ts';
export { alertStats, alertStatsToJson, type AlertStats, type ChannelStats } from './alert-stats.ts';
export { expireSilenceById, matchersOf, silenceStateOf, silenceToJson, type SilenceMatchers, type SilenceState } from './silences.ts';
export { sendTestNotification, testNotificationDepsOf, testNotificationToJson, type ChannelTestResult, type TestNotificationDeps, type TestNotificationReport } from './test-notification.ts';
export { parseDuration, parseInstant } from './time-input.ts';
export * from './rules/index.ts';
