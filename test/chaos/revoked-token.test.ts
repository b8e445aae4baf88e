import { describe, expect, it } from 'vitest';
import { waitFor } from '../support/process';
import {
  drained,
  joinAll,
  makeJoiners,
  outcome,
  printOutcome,
  protectGroups,
  sleep,
  useChaosDeployment,
} from './helpers';

const d = useChaosDeployment();

// test/lifecycle/status.test.ts proves the same in one process; here the poller and the verifier are separate
// processes and the other bot keeps deciding a join load meanwhile.
describe("chaos: a bot's token is revoked", () => {
  it(
    'that bot stops with the reason, no restart storm, and the other bot is untouched',
    { timeout: 60_000 },
    async () => {
      const revoked = await d.addBot();
      const other = await d.addBot();
      const poller = d.spawn('poller');
      const verifier = d.spawn('verifier');
      const status = async (id: number) => d.db.botInstance.findUniqueOrThrow({ where: { id } });
      await waitFor(
        async () =>
          (await status(revoked.instanceId)).status === 'running' &&
          (await status(other.instanceId)).status === 'running',
        20_000,
        'both bots to run',
      );
      const scene = await protectGroups(d, other, 4);
      const joiners = await makeJoiners(d, scene, 30, 0.6);

      const load = joinAll(d, joiners.slice(0, 60), 4);
      const revokedAt = Date.now();
      await d.client.revokeToken(revoked.id);
      const user = await d.client.createUser();
      await d.client.sendPrivateMessage(revoked.id, user.id, 'wake up'); // ends the long poll: the next call meets the 401
      const stopped = await waitFor(
        async () => {
          const row = await status(revoked.instanceId);
          return row.status === 'stopped' ? row : undefined;
        },
        20_000,
        'the revoked bot to stop',
      );
      const stoppedAfterMs = Date.now() - revokedAt;
      const unauthorizedAtStop = (await d.client.calls(revoked.id)).calls.filter((c) => c.errorCode === 401).length;
      await load;
      await joinAll(d, joiners.slice(60), 4);
      await sleep(3_000); // would a supervisor restart it, the 401s would pile up here
      const calls = (await d.client.calls(revoked.id)).calls;
      const unauthorized = calls.filter((c) => c.errorCode === 401).length;
      await drained(d, other, 30_000);
      await sleep(600);

      const result = await outcome(d, other, joiners);
      const otherRow = await status(other.instanceId);
      printOutcome('revoked-token', result, {
        stoppedAfterMs,
        reason: JSON.stringify(stopped!.statusReason),
        unauthorizedCalls: unauthorized,
        unauthorizedAtStop,
        restartCount: stopped!.restartCount,
        otherStatus: otherRow.status,
      });
      expect(stopped!.statusReason).toMatch(/revoked|401|unauthorized/i);
      expect(stopped!.isActive).toBe(false);
      expect(stopped!.restartCount).toBe(0);
      expect(unauthorized).toBeLessThanOrEqual(2);
      expect(unauthorized).toBe(unauthorizedAtStop);
      expect(otherRow).toMatchObject({ status: 'running', statusReason: null, isActive: true, restartCount: 0 });
      expect(result.problems).toEqual([]);
      expect(result.lost).toBe(0);
      expect(result.duplicates).toBe(0);
      expect(poller.child.exitCode).toBeNull();
      expect(verifier.child.exitCode).toBeNull();
    },
  );
});
