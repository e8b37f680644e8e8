import { ChannelDeliveryError, isChannelDeliveryError } from './delivery-error.ts';

/**
 * Sends the parts of one notification that go out as separate requests (an SMS per recipient,
 * a PagerDuty event per alert), `concurrency` at a time, and turns their failures into the one
 * `ChannelDeliveryError` the engine records: the part's own error when it is the only part,
 * else "N of M <noun> failed; first: …", retryable when any failure is. Parts already in flight
 * finish when the signal aborts; none start after it. `onSent` hears each part that went out,
 * so a channel can skip it on the engine's retry.
 */
export async function sendEach<T>(
  channel: string,
  parts: readonly T[],
  send: (part: T) => Promise<void>,
  options: { signal: AbortSignal; concurrency?: number; noun: string; onSent?: (part: T) => void },
): Promise<void> {
  const failures: ChannelDeliveryError[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < parts.length && !options.signal.aborted) {
      const part = parts[next++]!;
      try {
        await send(part);
        options.onSent?.(part);
      } catch (error) {
        if (!isChannelDeliveryError(error)) throw error;
        failures.push(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 1, parts.length) }, worker));
  if (failures.length === 0) {
    if (options.signal.aborted && next < parts.length) throw new ChannelDeliveryError(channel, 'aborted', 'the send was aborted');
    return;
  }
  const first = failures[0]!;
  if (parts.length === 1) throw first;
  throw new ChannelDeliveryError(channel, first.code, `${failures.length} of ${parts.length} ${options.noun} failed; first: ${first.message.slice(`${channel}: `.length)}`, {
    status: first.status,
    retryable: failures.some((failure) => failure.retryable),
  });
}
