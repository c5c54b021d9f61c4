import { CODES, REASONS, type RouterCode } from './codes';

const pages = new Map<string, Buffer>();

/**
 * The router's own answer: Heroku's "Application error" page, naming the code, as a
 * complete HTTP/1.1 response. keepAlive: the client's connection stays open after it;
 * http10: say so the HTTP/1.0 way; headOnly: the request was HEAD.
 */
export function errorResponse(status: number, code: RouterCode, keepAlive: boolean, http10: boolean, headOnly: boolean): Buffer {
  const key = `${status} ${code} ${keepAlive ? 1 : 0}${http10 ? 1 : 0}${headOnly ? 1 : 0}`;
  let page = pages.get(key);
  if (page === undefined) {
    page = build(status, code, keepAlive, http10, headOnly);
    pages.set(key, page);
  }
  return page;
}

function build(status: number, code: RouterCode, keepAlive: boolean, http10: boolean, headOnly: boolean): Buffer {
  const reason = REASONS[status] ?? 'Error';
  const desc = CODES[code].desc;
  const title = status >= 500 ? 'Application Error' : reason;
  const text =
    status >= 500
      ? 'An error occurred in the application and your page could not be served. If you are the application owner, check your logs for details.'
      : `The router could not pass this request on: ${reason.toLowerCase()}.`;
  const body =
    '<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n<meta name="viewport" content="width=device-width, initial-scale=1">\n' +
    `<title>${title}</title>\n` +
    '<style>body{font-family:sans-serif;margin:0;padding:3em;color:#3f3f44}h1{font-size:1.6em}code{background:#f3f3f6;padding:.2em .4em}</style>\n' +
    `</head>\n<body>\n<h1>${title}</h1>\n<p>${text}</p>\n<p><code>${code}</code> ${desc} (${status})</p>\n</body>\n</html>\n`;
  let connection = '';
  if (!keepAlive) connection = 'Connection: close\r\n';
  else if (http10) connection = 'Connection: keep-alive\r\n';
  const head =
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/html; charset=utf-8\r\nCache-Control: no-cache, no-store\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n${connection}\r\n`;
  // the answer to HEAD has the length of the page but not the page (RFC 9110 §9.3.2)
  return Buffer.from(headOnly ? head : head + body, 'utf8');
}
