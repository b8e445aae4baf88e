/**
 * A verifier SIGKILLed while its prompt was on its way to Telegram (issue 15, section 2 and the verifier-kill
 * chaos run that left users muted and never prompted). The job notes 'sending' in Redis as the request leaves;
 * the run that takes the job over cannot know whether Telegram got it, and a muted user without a prompt is
 * stuck, so it sends the prompt (at least once) and does not mute again.
 */
import { describe, expect, it } from 'vitest';
import { waitFor } from '../support/process';
import { protectGroups, useChaosDeployment } from './helpers';

const d = useChaosDeployment();

describe('chaos: a verifier killed while its prompt is on the wire', () => {
  it(
    "the job's next run sends the prompt to the user it muted, and mutes nobody twice",
    { timeout: 90_000 },
    async () => {
      const bot = await d.addBot();
      d.spawn('poller');
      const victim = d.spawn('verifier');
      const scene = await protectGroups(d, bot, 1);
      const groupId = scene.groups[0]!.id;
      // /protect's own answer is out first, so the fault below meets the prompt.
      await waitFor(
        async () => (await d.client.messages(groupId)).messages.some((m) => m.text?.startsWith('Protection is on')),
        10_000,
        "/protect's answer",
      );
      // The prompt's request reaches Telegram and is never answered, nor carried out.
      await d.client.addFaults(bot.id, [{ kind: 'timeout', method: 'sendMessage', count: 1 }]);
      const user = await d.client.createUser({ firstName: 'Stranded' });
      await d.client.join(groupId, user.id);
      await waitFor(
        async () => (await d.client.calls(bot.id, { method: 'sendMessage' })).calls.some((c) => c.fault === 'timeout'),
        20_000,
        'the prompt to be on its way',
      );
      victim.child.kill('SIGKILL');
      expect(await victim.exited).toBe('SIGKILL');
      expect((await d.client.member(groupId, user.id)).chatMember).toMatchObject({
        status: 'restricted',
        can_send_messages: false,
      });

      // Another verifier takes the job over once its lock (10 s) has run out and the stalled check saw it.
      d.spawn('verifier');
      const prompts = async () =>
        (await d.client.messages(groupId)).messages.filter((m) =>
          JSON.stringify(m.reply_markup ?? {}).includes(`"v:${user.id}"`),
        );
      await waitFor(
        async () => (await prompts()).length > 0,
        45_000,
        `a prompt for the muted user\n${d.outputTails()}`,
      );
      await waitFor(
        async () => (await d.db.verificationLog.count({ where: { userId: BigInt(user.id) } })) > 0,
        10_000,
        'the decision row',
      );

      expect(await prompts()).toHaveLength(1);
      const restricts = (await d.client.calls(bot.id, { method: 'restrictChatMember' })).calls.filter(
        (c) => c.params.user_id === user.id && c.outcome === 'ok',
      );
      expect(restricts).toHaveLength(1);
      const row = await d.db.restriction.findFirstOrThrow({ where: { userId: BigInt(user.id), liftedAt: null } });
      expect(row.promptMessageId).toBe((await prompts())[0]!.message_id);
      expect(
        (await d.db.verificationLog.findMany({ where: { userId: BigInt(user.id) } })).map((r) => r.status),
      ).toEqual(['restricted']);
    },
  );
});
