/**
 * The SSRF guard for links found in messages. A reference attachment's
 * `contentUrl` is never fetched: it is handed to Graph's shares API, and only
 * when it names a Microsoft 365 host. Anything else (an internal address, a
 * cloud metadata endpoint, another site) is refused and counted.
 */

/** SharePoint and OneDrive hosts in Microsoft's public, government, German and Chinese clouds. */
const HOST_SUFFIXES = ['.sharepoint.com', '.sharepoint.us', '.sharepoint-mil.us', '.sharepoint.de', '.sharepoint.cn', '.sharepoint-df.com'];
const HOSTS = new Set(['onedrive.live.com', '1drv.ms', 'd.docs.live.net']);

export const REFUSED_LINK_REASON = 'attachment link is not a Microsoft 365 address (refused, never fetched)';

/** True for an https URL on a SharePoint/OneDrive host, without credentials or an unusual port. */
export function isMicrosoft365Url(raw: string): boolean {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return false;
  }
  if (url.protocol !== 'https:' || url.username !== '' || url.password !== '' || (url.port !== '' && url.port !== '443')) return false;
  const host = url.hostname.toLowerCase().replace(/\.$/, '');
  // Suffixes start with a dot, so "evilsharepoint.com" and bare IP addresses never match.
  return HOSTS.has(host) || HOST_SUFFIXES.some((suffix) => host.endsWith(suffix) && host.length > suffix.length);
}

/** Graph's sharing token for a URL: `u!` + unpadded base64url (GET /shares/{token}/driveItem). */
export function shareToken(url: string): string {
  return `u!${Buffer.from(url).toString('base64url')}`;
}
