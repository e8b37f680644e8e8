import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Interaction, Provider } from 'oidc-provider';
import { normalizeUsername } from './sandbox-account.ts';
import { readBody, sendHtml } from './http-helpers.ts';
import { renderConsentPage, renderLoginPage, renderMessagePage } from './interaction-pages.ts';

const FORM_LIMIT_BYTES = 16 * 1024;
const ROUTE = /^\/interaction\/([A-Za-z0-9_-]{1,128})(?:\/(login|confirm|abort))?$/;

/**
 * The login and consent steps of the authorization flow (OpenID Connect Core §3.1.2.3-4),
 * driven by oidc-provider's interaction API: the provider redirects the browser to
 * /interaction/:uid, we render a page, and the page's form posts back here; we record the
 * result and send the browser back to the provider, which continues (to consent, or to the
 * client's redirect_uri).
 */
export function createInteractionRoutes(provider: Provider) {
  return async function handleInteraction(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const match = ROUTE.exec(path);
    const action = match?.[2];
    if (!match || (action === undefined ? req.method !== 'GET' : req.method !== 'POST')) {
      sendHtml(res, 404, renderMessagePage('Not found', 'There is no such page in the sandbox.'));
      return;
    }

    const interaction = await loadInteraction(provider, req, res, match[1]!);
    if (!interaction) return;

    if (action === undefined) {
      await showInteraction(provider, interaction, res);
    } else if (action === 'login') {
      await submitLogin(provider, interaction, req, res);
    } else if (action === 'confirm') {
      await submitConsent(provider, interaction, req, res);
    } else {
      // RFC 6749 §4.1.2.1: the resource owner denied the request → error=access_denied at the client.
      await provider.interactionFinished(
        req,
        res,
        { error: 'access_denied', error_description: 'The user denied access at the sandbox.' },
        { mergeWithLastSubmission: false },
      );
    }
  };
}

/**
 * The interaction comes from the signed cookie oidc-provider set, not from the URL; the uid in
 * the URL must match it, so a stale tab cannot act on a newer interaction.
 */
async function loadInteraction(provider: Provider, req: IncomingMessage, res: ServerResponse, uid: string): Promise<Interaction | undefined> {
  let interaction: Interaction | undefined;
  try {
    interaction = await provider.interactionDetails(req, res);
  } catch (error) {
    if ((error as Error).name !== 'SessionNotFound') throw error;
  }
  if (!interaction || interaction.uid !== uid) {
    sendHtml(res, 400, renderMessagePage(
      'Sign-in expired',
      'This sign-in attempt has expired or was already completed. Start again from the app you came from.',
    ));
    return undefined;
  }
  return interaction;
}

async function clientName(provider: Provider, interaction: Interaction): Promise<string> {
  const clientId = interaction.params.client_id ?? 'An application';
  const client = await provider.Client.find(clientId);
  return client?.clientName ?? clientId;
}

function requestedScopes(interaction: Interaction): string[] {
  return interaction.prompt.details.missingOIDCScope
    ?? (interaction.params.scope ?? '').split(' ').filter((scope) => scope.length > 0);
}

async function showInteraction(provider: Provider, interaction: Interaction, res: ServerResponse): Promise<void> {
  const name = await clientName(provider, interaction);
  if (interaction.prompt.name === 'login') {
    // OpenID Connect Core §3.1.2.1: login_hint pre-fills the username.
    sendHtml(res, 200, renderLoginPage({ uid: interaction.uid, clientName: name, username: interaction.params.login_hint }));
  } else if (interaction.prompt.name === 'consent' && interaction.session) {
    sendHtml(res, 200, renderConsentPage({
      uid: interaction.uid,
      clientName: name,
      accountId: interaction.session.accountId,
      scopes: requestedScopes(interaction),
    }));
  } else {
    sendHtml(res, 400, renderMessagePage('Unsupported step', `The sandbox cannot handle the "${interaction.prompt.name}" step.`));
  }
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  return new URLSearchParams((await readBody(req, FORM_LIMIT_BYTES)).toString('utf8'));
}

async function submitLogin(provider: Provider, interaction: Interaction, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const form = await readForm(req);
  if (interaction.prompt.name !== 'login') {
    sendHtml(res, 400, renderMessagePage('Already signed in', 'This step is done; go back to the app and start again.'));
    return;
  }
  const username = normalizeUsername(form.get('username'));
  if (username === undefined) {
    sendHtml(res, 400, renderLoginPage({
      uid: interaction.uid,
      clientName: await clientName(provider, interaction),
      error: 'Enter a username (1 to 64 characters).',
      username: form.get('username') ?? '',
    }));
    return;
  }
  await provider.interactionFinished(req, res, { login: { accountId: username } }, { mergeWithLastSubmission: false });
}

async function submitConsent(provider: Provider, interaction: Interaction, req: IncomingMessage, res: ServerResponse): Promise<void> {
  await readForm(req);
  if (interaction.prompt.name !== 'consent' || !interaction.session) {
    sendHtml(res, 400, renderMessagePage('Nothing to allow', 'This step is done; go back to the app and start again.'));
    return;
  }
  const { details } = interaction.prompt;
  const grant = interaction.grantId
    ? await provider.Grant.find(interaction.grantId)
    : new provider.Grant({ accountId: interaction.session.accountId, clientId: interaction.params.client_id! });
  if (!grant) {
    sendHtml(res, 400, renderMessagePage('Sign-in expired', 'The authorization was revoked meanwhile. Start again from the app.'));
    return;
  }
  if (details.missingOIDCScope) grant.addOIDCScope(details.missingOIDCScope.join(' '));
  if (details.missingOIDCClaims) grant.addOIDCClaims(details.missingOIDCClaims);
  for (const [resource, scopes] of Object.entries(details.missingResourceScopes ?? {})) {
    grant.addResourceScope(resource, scopes.join(' '));
  }
  const grantId = await grant.save();
  await provider.interactionFinished(
    req,
    res,
    { consent: interaction.grantId ? {} : { grantId } },
    { mergeWithLastSubmission: true },
  );
}
