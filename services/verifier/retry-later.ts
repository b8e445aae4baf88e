/**
 * Someone else is deciding this very thing right now (another worker holds the claim): the job is handed back
 * delayed until `retryAt`, without spending an attempt, and then finds the decision made or the claim free.
 */
export class RetryLaterError extends Error {
  override name = 'RetryLaterError';
  constructor(readonly retryAt: number, reason: string) {
    super(reason);
  }
}
