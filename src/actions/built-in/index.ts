import type { ActionDefinition } from '../action-definition.ts';
import { githubCreateIssue } from './github-create-issue.ts';
import { gmailSend } from './gmail-send.ts';
import { microsoftSendMail } from './microsoft-send-mail.ts';
import { sandboxCreateNote } from './sandbox-create-note.ts';
import { slackPostMessage } from './slack-post-message.ts';

/** The actions Tokenkeeper ships, in the order `GET /v1/actions` lists them. */
export const builtInActions: readonly ActionDefinition[] = Object.freeze([
  gmailSend,
  microsoftSendMail,
  slackPostMessage,
  githubCreateIssue,
  sandboxCreateNote,
] as ActionDefinition[]);
