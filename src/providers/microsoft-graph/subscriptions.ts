import { z } from 'zod';
import { isNotFound, SourceProtocolError } from '../../errors.js';
import type { GraphClient } from './client.js';

/**
 * Graph change-notification subscriptions (https://learn.microsoft.com/en-us/graph/api/resources/subscription):
 * create, renew, delete. Every call goes through the client's SourceHttp, so retries, throttling pauses and
 * verdicts are the shared ones. A subscription's `clientState` is a secret: it is sent, never logged, and no
 * error message built here quotes a request or answer body.
 */

/** What Graph answers for a subscription, the slice we keep. */
export interface GraphSubscription {
  id: string;
  resource: string;
  changeType: string;
  expirationDateTime: string;
  clientState?: string;
}

/**
 * Longest lifetime Graph grants, per resource, in minutes ("Subscription lifetime" table of the
 * subscription resource page): OneDrive driveItem and SharePoint list 42,300 minutes (under 30 days);
 * Teams chatMessage 4,320 minutes (under 3 days), which needs a `lifecycleNotificationUrl` past one hour.
 */
export const GRAPH_SUBSCRIPTION_MAX_MINUTES: { driveItem: number; channelMessages: number } = { driveItem: 42_300, channelMessages: 4_320 };

const subscriptionSchema = z.object({
  id: z.string().min(1),
  resource: z.string(),
  changeType: z.string(),
  expirationDateTime: z.string().min(1),
  clientState: z.string().nullish(),
});

function parseSubscription(data: unknown, what: string): GraphSubscription {
  const parsed = subscriptionSchema.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new SourceProtocolError(`Microsoft Graph answered ${what} with an unexpected shape (${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'})`);
  }
  const { clientState, ...rest } = parsed.data;
  return clientState ? { ...rest, clientState } : rest;
}

const JSON_BODY = { 'content-type': 'application/json' } as const;

const subscriptionUrl = (client: GraphClient, id: string): string => `${client.baseUrl}/subscriptions/${encodeURIComponent(id)}`;

/**
 * Creates a subscription. Graph first checks `notificationUrl` (and `lifecycleNotificationUrl`) with a
 * validation request our endpoint must answer within 10 s; a failed check is a 400 to this call, which the
 * shared rules turn into a PermanentSourceError.
 */
export async function createGraphSubscription(
  client: GraphClient,
  input: { resource: string; changeType: string; notificationUrl: string; lifecycleNotificationUrl?: string; clientState: string; expirationDateTime: string },
): Promise<GraphSubscription> {
  const { data } = await client.http.json(`${client.baseUrl}/subscriptions`, {
    method: 'POST',
    headers: JSON_BODY,
    body: JSON.stringify(input),
  });
  return parseSubscription(data, `the subscription to ${input.resource}`);
}

/** Moves a subscription's expiry (Graph's "Update subscription": PATCH with the new expirationDateTime). */
export async function renewGraphSubscription(client: GraphClient, id: string, expirationDateTime: string): Promise<GraphSubscription> {
  const { data } = await client.http.json(subscriptionUrl(client, id), {
    method: 'PATCH',
    headers: JSON_BODY,
    body: JSON.stringify({ expirationDateTime }),
  });
  return parseSubscription(data, `the renewal of subscription ${id}`);
}

/** Deletes a subscription; one Graph no longer knows (404: expired or removed) is already gone, which is what we asked for. */
export async function deleteGraphSubscription(client: GraphClient, id: string): Promise<void> {
  try {
    const response = await client.http.send(subscriptionUrl(client, id), { method: 'DELETE' });
    await response.discard();
  } catch (e) {
    if (isNotFound(e)) return;
    throw e;
  }
}
