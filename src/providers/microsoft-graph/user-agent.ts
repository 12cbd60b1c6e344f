/** The connector's version, for the User-Agent (kept equal to package.json's by a test). */
export const CONNECTOR_VERSION = '0.1.0';

/**
 * Sent on every Microsoft request (Graph, its download redirects, the token endpoint), in
 * SharePoint's "decorate your traffic" form `ISV|Company|App/Version`: "Well decorated traffic
 * will be prioritized over traffic which is not properly decorated"
 * (https://learn.microsoft.com/en-us/sharepoint/dev/general-development/how-to-avoid-getting-throttled-or-blocked-in-sharepoint-online).
 */
export const GRAPH_USER_AGENT = `ISV|EchoMind|echomind-connector/${CONNECTOR_VERSION}`;
