/**
 * Failures as sentences for the panel: whatever was thrown (an `Error`, an `ApiError` carrying
 * the server's words, or anything else) becomes text a user can read.
 */

/** A readable sentence for any failure. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) {
    return error.message;
  }
  return String(error);
}
