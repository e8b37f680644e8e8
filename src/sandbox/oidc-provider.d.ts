/**
 * The slice of oidc-provider 9 that the sandbox uses. The package ships no type declarations
 * (and `@types/oidc-provider` lags the major version), so this describes only what
 * src/sandbox/ touches; everything else stays `unknown`. Kept in src/sandbox/ because nothing
 * outside the sandbox may import oidc-provider.
 */
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  export type AdapterPayload = Record<string, unknown> & {
    grantId?: string;
    uid?: string;
    userCode?: string;
    accountId?: string;
    clientId?: string;
    consumed?: unknown;
    jti?: string;
  };

  export interface Adapter {
    upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void>;
    find(id: string): Promise<AdapterPayload | undefined>;
    findByUserCode(userCode: string): Promise<AdapterPayload | undefined>;
    findByUid(uid: string): Promise<AdapterPayload | undefined>;
    consume(id: string): Promise<void>;
    destroy(id: string): Promise<void>;
    revokeByGrantId(grantId: string): Promise<void>;
  }

  /** Koa's context, as far as the sandbox's middleware reads it. */
  export interface KoaContextWithOIDC {
    method: string;
    path: string;
    status: number;
    body: unknown;
    type: string;
    host: string;
    oidc?: { route?: string; client?: { clientId: string }; params?: Record<string, unknown> };
    set(field: string, value: string): void;
  }

  export type Middleware = (ctx: KoaContextWithOIDC, next: () => Promise<void>) => Promise<void>;

  export interface ClaimsResult {
    sub: string;
    [claim: string]: unknown;
  }

  export interface Account {
    accountId: string;
    claims(use: string, scope: string, claims: unknown, rejected: string[]): ClaimsResult | Promise<ClaimsResult>;
  }

  export interface ClientMetadata {
    client_id: string;
    client_secret?: string;
    redirect_uris?: string[];
    grant_types?: string[];
    response_types?: string[];
    token_endpoint_auth_method?: string;
    application_type?: 'web' | 'native';
    scope?: string;
    client_name?: string;
    [key: string]: unknown;
  }

  export interface Client {
    clientId: string;
    clientName?: string;
    applicationType: 'web' | 'native';
    clientAuthMethod: string;
    redirectUris: string[];
    grantTypeAllowed(grantType: string): boolean;
    metadata(): ClientMetadata;
  }

  export interface ClientModel {
    new (metadata: ClientMetadata): Client;
    find(id: string): Promise<Client | undefined>;
  }

  export interface Token {
    jti: string;
    accountId?: string;
    clientId: string;
    grantId?: string;
    scope?: string;
    exp: number;
    isExpired: boolean;
    jkt?: string;
    'x5t#S256'?: string;
  }

  export interface TokenModel {
    /** A new token (e.g. a refresh token minted outside a request: bulk-grants.ts); `save` returns its value. */
    new (properties: Record<string, unknown>): Token & { save(): Promise<string> };
    find(value: string, options?: { ignoreExpiration?: boolean }): Promise<Token | undefined>;
  }

  export interface Grant {
    jti?: string;
    accountId: string;
    clientId: string;
    addOIDCScope(scope: string): void;
    addOIDCClaims(claims: string[]): void;
    addResourceScope(resource: string, scope: string): void;
    save(): Promise<string>;
  }

  export interface GrantModel {
    new (properties: { accountId: string; clientId: string }): Grant;
    find(id: string): Promise<Grant | undefined>;
  }

  export interface PromptDetail {
    name: 'login' | 'consent' | string;
    reasons: string[];
    details: {
      missingOIDCScope?: string[];
      missingOIDCClaims?: string[];
      missingResourceScopes?: Record<string, string[]>;
      [key: string]: unknown;
    };
  }

  export interface Interaction {
    uid: string;
    prompt: PromptDetail;
    params: Record<string, string | undefined>;
    session?: { accountId: string; uid: string };
    grantId?: string;
    returnTo: string;
  }

  export type InteractionResults =
    | { login: { accountId: string; remember?: boolean } }
    | { consent: { grantId?: string } }
    | { error: string; error_description?: string };

  export type TTLFunction = (ctx: unknown, token: Token, client: Client) => number;

  export interface Configuration {
    adapter?: (name: string) => Adapter;
    claims?: Record<string, string[] | null>;
    clientBasedCORS?: (ctx: unknown, origin: string, client: Client) => boolean;
    conformIdTokenClaims?: boolean;
    cookies?: { keys?: string[]; long?: Record<string, unknown>; short?: Record<string, unknown> };
    expiresWithSession?: (ctx: unknown, token: Token) => boolean | Promise<boolean>;
    features?: Record<string, Record<string, unknown>>;
    findAccount?: (ctx: unknown, sub: string, token?: Token) => Account | undefined | Promise<Account | undefined>;
    interactions?: { policy?: Prompt[]; url?: (ctx: unknown, interaction: Interaction) => string | Promise<string> };
    issueRefreshToken?: (ctx: unknown, client: Client, code: unknown) => boolean | Promise<boolean>;
    jwks?: { keys: Record<string, unknown>[] };
    pkce?: { required?: (ctx: unknown, client: Client) => boolean };
    renderError?: (ctx: KoaContextWithOIDC, out: Record<string, string>, error: Error) => void | Promise<void>;
    rotateRefreshToken?: boolean | ((ctx: unknown) => boolean);
    routes?: Record<string, string>;
    scopes?: string[];
    ttl?: Record<string, number | TTLFunction>;
    [key: string]: unknown;
  }

  export class Provider {
    constructor(issuer: string, configuration?: Configuration);
    readonly issuer: string;
    proxy: boolean;
    readonly Client: ClientModel;
    readonly Grant: GrantModel;
    readonly AccessToken: TokenModel;
    readonly ClientCredentials: TokenModel;
    readonly RefreshToken: TokenModel;
    callback(): (req: IncomingMessage, res: ServerResponse) => Promise<void>;
    use(middleware: Middleware): this;
    on(event: string, listener: (...args: any[]) => void): this;
    interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<Interaction>;
    interactionFinished(
      req: IncomingMessage,
      res: ServerResponse,
      result: InteractionResults,
      options?: { mergeWithLastSubmission?: boolean },
    ): Promise<void>;
  }

  export const errors: {
    SessionNotFound: new (...args: any[]) => Error;
    InvalidRequest: new (description?: string) => Error;
  };

  export interface Check {
    reason: string;
  }

  export interface Prompt {
    name: string;
    checks: { add(check: Check): void };
  }

  export const interactionPolicy: {
    base(): Prompt[] & { get(name: string): Prompt | undefined };
    Check: {
      new (reason: string, description: string, check: (ctx: { oidc: { result?: { login?: unknown } } }) => boolean): Check;
      readonly REQUEST_PROMPT: true;
      readonly NO_NEED_TO_PROMPT: false;
    };
  };

  export default Provider;
}
