// Bot API errors with Telegram's real descriptions. Handlers throw these; the server renders
// them as {ok:false,error_code,description,parameters?}.

/** Telegram's ResponseParameters: what a client needs to recover from the error automatically. */
export interface ResponseParameters {
  retry_after?: number;
  migrate_to_chat_id?: number;
}

export class BotApiError extends Error {
  constructor(
    readonly errorCode: number,
    readonly description: string,
    readonly parameters: ResponseParameters = {},
  ) {
    super(description);
  }

  get retryAfter(): number | undefined {
    return this.parameters.retry_after;
  }

  toBody(): Record<string, unknown> {
    const body: Record<string, unknown> = { ok: false, error_code: this.errorCode, description: this.description };
    if (Object.keys(this.parameters).length > 0) body.parameters = { ...this.parameters };
    return body;
  }
}

const badRequest = (what: string) => new BotApiError(400, `Bad Request: ${what}`);
const forbidden = (what: string) => new BotApiError(403, `Forbidden: ${what}`);

export const Errors = {
  unauthorized: () => new BotApiError(401, 'Unauthorized'),
  notFound: () => new BotApiError(404, 'Not Found'),
  tooManyRequests: (retryAfter: number) =>
    new BotApiError(429, `Too Many Requests: retry after ${retryAfter}`, { retry_after: retryAfter }),
  pollConflict: () =>
    new BotApiError(
      409,
      'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running',
    ),
  webhookConflict: () =>
    new BotApiError(
      409,
      "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
    ),
  badRequest,
  missingParam: (name: string) => badRequest(`${name} is empty`),
  chatNotFound: () => badRequest('chat not found'),
  groupUpgraded: (migrateToChatId: number) =>
    new BotApiError(400, 'Bad Request: group chat was upgraded to a supergroup chat', {
      migrate_to_chat_id: migrateToChatId,
    }),
  userNotFound: () => badRequest('user not found'),
  memberListInaccessible: () => badRequest('member list is inaccessible'),
  notEnoughRightsToRestrict: () => badRequest('not enough rights to restrict/unrestrict chat member'),
  onlySupergroups: () => badRequest('method is available only for supergroups'),
  messageToDeleteNotFound: () => badRequest('message to delete not found'),
  messageToEditNotFound: () => badRequest('message to edit not found'),
  messageCantBeDeleted: () => badRequest("message can't be deleted"),
  messageCantBeEdited: () => badRequest("message can't be edited"),
  messageNotModified: () =>
    badRequest(
      'message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message',
    ),
  messageTextEmpty: () => badRequest('message text is empty'),
  messageTooLong: () => badRequest('message is too long'),
  buttonDataInvalid: () => badRequest('BUTTON_DATA_INVALID'),
  userAlreadyParticipant: () => badRequest('USER_ALREADY_PARTICIPANT'),
  hideRequesterMissing: () => badRequest('HIDE_REQUESTER_MISSING'),
  chatAdminRequired: () => badRequest('CHAT_ADMIN_REQUIRED'),
  cantRemoveOwner: () => badRequest("can't remove chat owner"),
  userIsAdministrator: () => badRequest('user is an administrator of the chat'),
  cantRestrictSelf: () => badRequest("can't restrict self"),
  queryTooOld: () => badRequest('query is too old and response timeout expired or query ID is invalid'),
  notEnoughRightsToSend: () => badRequest('not enough rights to send text messages to the chat'),
  needChannelAdmin: () => badRequest('need administrator rights in the channel chat'),
  botKicked: (chatType: string) => forbidden(`bot was kicked from the ${chatTypeWord(chatType)} chat`),
  botNotMember: (chatType: string) => forbidden(`bot is not a member of the ${chatTypeWord(chatType)} chat`),
  cantInitiateConversation: () => forbidden("bot can't initiate conversation with a user"),
  botCantSendToBots: () => forbidden("bot can't send messages to bots"),
};

function chatTypeWord(chatType: string): string {
  return chatType === 'channel' ? 'channel' : chatType === 'group' ? 'group' : 'supergroup';
}
