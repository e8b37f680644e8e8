export { buildMimeMessage, type MailMessage } from './mime-message.ts';
export type { MailAddress } from './header-fields.ts';
