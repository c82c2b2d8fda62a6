// Masking secrets for display: configuration values (`orchestry-ingest config`, configuration errors)
// and free text (log lines). Connection URLs are masked by parsing them, never by pattern alone.

const CENSOR = '****';
const SECRET_VARS = /PASSWORD|TOKEN|SECRET/;
const URL_VARS = /_URL$/;
/** Shown instead of a URL variable's value that does not parse (it may hold a password in any form). */
export const UNPARSABLE_URL = '(not shown: not a parsable URL)';

/**
 * A connection URL with its password (userinfo and `password=` query parameter) replaced by ****,
 * whatever characters the password holds; undefined when the URL does not parse.
 */
export function maskConnectionUrl(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (url.password || /^[^/]*\/\/[^/@]*:[^/]*@/.test(value)) url.password = CENSOR;
  for (const key of [...url.searchParams.keys()]) if (/^password$/i.test(key)) url.searchParams.set(key, CENSOR);
  return url.toString();
}

/** A configuration value fit to print: secrets as ****, URLs with their password masked, unparsable URLs not at all. */
export function mask(variable: string, value: string): string {
  if (SECRET_VARS.test(variable)) return CENSOR;
  if (URL_VARS.test(variable)) return maskConnectionUrl(value) ?? UNPARSABLE_URL;
  return maskUrl(value);
}

/** Replaces the password of any `scheme://user:pass@host` inside free text with ****. */
export function maskUrl(value: string): string {
  // The password runs to the last @ before the host (libpq accepts a raw @ in it), and may also
  // be given as a password= query parameter.
  return value
    .replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^:/?#@\s"]*:)[^/?#\s"]*@/gi, `$1${CENSOR}@`)
    .replace(/([?&]password=)[^&#\s"]*/gi, `$1${CENSOR}`);
}
