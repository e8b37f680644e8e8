/**
 * The alert notification channels (the console one is the core's `LogChannel`): each turns one group notification into one message on its
 * medium (log, signed webhook, Slack, e-mail, Twilio SMS, PagerDuty Events v2) and fails only
 * with a `ChannelDeliveryError` the policy engine records. Built from the configuration by
 * `createAlertChannels`.
 */
export { createAlertChannels, describeAlertChannels, type ChannelDescription, type CreateAlertChannelsOptions } from './create-channels.ts';
export { ChannelDeliveryError, isChannelDeliveryError, type ChannelFailureCode } from './delivery-error.ts';
export { EmailChannel, type EmailChannelOptions, type SmtpServer } from './email-channel.ts';
export { fitGsm7, gsm7Length, isGsm7, toGsm7, GSM7_SEGMENT } from './gsm7.ts';
export { PagerDutyChannel, pagerDutyDedupKey, pagerDutyEvents, type PagerDutyChannelOptions, type PagerDutyEvent } from './pagerduty-channel.ts';
export { SlackChannel, slackMessage, type SlackChannelOptions } from './slack-channel.ts';
export { SmsChannel, smsBody, type SmsChannelOptions } from './sms-channel.ts';
export { alertWebhookPayload, WebhookChannel, type AlertWebhookPayload, type WebhookChannelOptions } from './webhook-channel.ts';
