import { createRequire } from 'node:module';
import type { ZxcvbnFactory } from '@zxcvbn-ts/core';

/**
 * The password policy for admin accounts, after NIST SP 800-63B: a length floor (12) and ceiling (256), and no
 * password that is common, breached-list material or otherwise easy to guess, with no composition rules.
 * "Easy to guess" is zxcvbn's estimate (Dropbox's model, maintained as zxcvbn-ts), fully offline: its dictionaries
 * hold the most common passwords from breach corpora, English words and names, and it sees through repeats
 * ("aaaaaaaaaaaa", twelve spaces), sequences, keyboard walks, dates and l33t substitutions. Score 3 means about
 * 10^8 guesses or more, out of reach of an online attack and costly offline against argon2id.
 */
export const PASSWORD_MIN_LENGTH = 12;
export const PASSWORD_MAX_LENGTH = 256;
const MIN_SCORE = 3;

// The dictionaries are ~12 MB of heap: loaded when a password is first checked (owner set-up, a new or changed
// password), not in every API process from the start, where they made every garbage collection longer.
const load = createRequire(import.meta.url);
let zxcvbn: ZxcvbnFactory | undefined;
const estimator = () => {
  if (zxcvbn) return zxcvbn;
  const { ZxcvbnFactory } = load('@zxcvbn-ts/core') as typeof import('@zxcvbn-ts/core');
  const common = load('@zxcvbn-ts/language-common') as typeof import('@zxcvbn-ts/language-common');
  const en = load('@zxcvbn-ts/language-en') as typeof import('@zxcvbn-ts/language-en');
  return (zxcvbn = new ZxcvbnFactory({
    dictionary: { ...common.dictionary, ...en.dictionary },
    graphs: common.adjacencyGraphs,
    translations: en.translations,
  }));
};

/** Why `password` is refused, or null when it may be used. `userInputs` (the email…) count as guessable. */
export function passwordProblem(password: string, userInputs: string[] = []): string | null {
  if (password.length < PASSWORD_MIN_LENGTH) return `at least ${PASSWORD_MIN_LENGTH} characters`;
  if (password.length > PASSWORD_MAX_LENGTH) return `at most ${PASSWORD_MAX_LENGTH} characters`;
  const inputs = userInputs.flatMap((v) => [v, ...v.split(/[@.+_-]/)]).filter((v) => v.length >= 3);
  const result = estimator().check(password, inputs);
  if (result.score >= MIN_SCORE) return null;
  const hint = result.feedback.warning ?? result.feedback.suggestions[0] ?? 'It is too easy to guess.';
  return `too easy to guess: ${hint} Use a longer passphrase of unrelated words.`;
}
