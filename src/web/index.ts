export { renderMessagePage, escapeHtml, BASE_STYLE } from './message-page.ts';
export { registerPages } from './pages.ts';
export { sendHtmlPage } from './page-headers.ts';
export { pageAccess, type PageAccess } from './page-access.ts';
