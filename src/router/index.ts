/**
 * dynod's router: Heroku's HTTP router (vegur's pipeline) in front of a formation's web
 * dynos. lookup.ts → checkout.ts → connect.ts → exchange.ts → checkin.ts → error-page.ts,
 * on a minimal HTTP/1.1 parser (request-head.ts, response-head.ts, chunked.ts).
 */
export { Router, type RouterAddress } from './router';
export type { Backend, BackendSource, RouterOptions, RouterStats, BackendStats, RouterTimeouts, ListenAddress, RouterTls } from './types';
export { DEFAULT_TIMEOUTS, LIMITS } from './limits';
export { CODES, type RouterCode } from './codes';
export { selfSignedCertificate, loadCertificate, type CertificateFiles } from './self-signed';
