/** The authenticated proxy to provider APIs (docs/proxy.md): the only import surface of src/proxy/. */
export { ProxyService, PROXY_METHODS, type ProxyAnswer, type ProxyCall, type ProxyServiceOptions, type NotRetriedReason } from './proxy-service.ts';
export { prepareBody, REPLAYABLE_BODY_BYTES, type ProxyBody } from './request-body.ts';
export { proxyTarget, type ProxyTarget } from './target-url.ts';
export { apiBaseUrlOf } from './api-base-url.ts';
export { inboundHeaders, outboundHeaders, TOKENKEEPER_HEADER_PREFIX } from './headers.ts';
