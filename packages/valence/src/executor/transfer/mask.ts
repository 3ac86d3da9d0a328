/**
 * Hides credentials in text that may reach a node's error, a log or the
 * dashboard: the password of a URL (`https://user:***@host`), the values of
 * query parameters that sign or authorise a request (pre-signed S3 URLs,
 * `?token=`), and any secret a strategy names (an S3 secret key).
 */

const HIDDEN = "***";

/** `scheme://user:password@` — the user stays (it names the account), the password goes. */
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^\s/?#@:]*):[^\s/?#@]*@/gi;

/** Query parameters whose values are credentials in the URLs people paste. */
const SECRET_PARAMS = /([?&](?:x-amz-signature|x-amz-credential|x-amz-security-token|signature|sig|token|access_token|api_key|apikey|key|secret|password|pw)=)[^&#\s"']*/gi;

/** The text with every credential in it replaced by `***`; `secrets` shorter than 4 characters are ignored (they would mask ordinary words). */
export function maskCredentials(text: string, secrets: readonly string[] = []): string {
  let masked = text.replace(URL_PASSWORD, `$1:${HIDDEN}@`).replace(SECRET_PARAMS, `$1${HIDDEN}`);
  for (const secret of secrets) {
    if (secret.length >= 4) masked = masked.split(secret).join(HIDDEN);
    // A URL-encoded secret (in a query string or an echoed request) is the same secret.
    const encoded = encodeURIComponent(secret);
    if (encoded !== secret && encoded.length >= 4) masked = masked.split(encoded).join(HIDDEN);
  }
  return masked;
}
