export type { LogSink } from './log-sink.ts';
export { prettyStream } from './pretty-stream.ts';
export { isSecretFieldName, redact, redactError, redactField, redactText } from './redact.ts';
export { currentRequestId, runWithRequestId } from './request-context.ts';
