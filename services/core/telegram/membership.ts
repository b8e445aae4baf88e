import type { ChatMember } from 'telegraf/types';

/** The membership predicate: `restricted` counts only while the user is still in the chat. */
export function isMember(member: Pick<ChatMember, 'status'> & { is_member?: boolean }): boolean {
  return (
    member.status === 'creator' ||
    member.status === 'administrator' ||
    member.status === 'member' ||
    (member.status === 'restricted' && member.is_member === true)
  );
}

export const isAdminStatus = (status: string) => status === 'creator' || status === 'administrator';
