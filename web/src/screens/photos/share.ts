// The web address of a share link: the app's own public page, which redeems the token through the API.
export function shareUrl(token: string, origin: string = location.origin): string {
  return `${origin}/s/${encodeURIComponent(token)}`;
}
