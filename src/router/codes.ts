/** Heroku's router error codes dynod produces, with their log descriptions and statuses. */
export type RouterCode = 'H10' | 'H11' | 'H12' | 'H13' | 'H14' | 'H15' | 'H17' | 'H18' | 'H19' | 'H20' | 'H21' | 'H26' | 'H27' | 'H28';

export interface CodeInfo {
  readonly desc: string;
  /** the status answered (and logged); H26's depends on the fault */
  readonly status: number;
  readonly level: 'error' | 'warning';
  /** which side went away, for H18/H27/H28 (`sock=`) */
  readonly sock?: 'client' | 'backend';
}

export const CODES: Readonly<Record<RouterCode, CodeInfo>> = {
  H10: { desc: 'App crashed', status: 503, level: 'error' },
  H11: { desc: 'Backlog too deep', status: 503, level: 'error' },
  H12: { desc: 'Request timeout', status: 503, level: 'error' },
  H13: { desc: 'Connection closed without response', status: 503, level: 'error' },
  H14: { desc: 'No web processes running', status: 503, level: 'error' },
  H15: { desc: 'Idle connection', status: 503, level: 'error' },
  H17: { desc: 'Poorly formatted HTTP response', status: 503, level: 'error' },
  H18: { desc: 'Server Request Interrupted', status: 503, level: 'error', sock: 'backend' },
  H19: { desc: 'Backend connection timeout', status: 503, level: 'error' },
  H20: { desc: 'App boot timeout', status: 503, level: 'error' },
  H21: { desc: 'Backend connection refused', status: 503, level: 'error' },
  H26: { desc: 'Request Error', status: 400, level: 'error' },
  H27: { desc: 'Client Request Interrupted', status: 499, level: 'warning', sock: 'client' },
  H28: { desc: 'Client Connection Idle', status: 499, level: 'warning', sock: 'client' },
};

export const REASONS: Readonly<Record<number, string>> = {
  100: 'Continue',
  400: 'Bad Request',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  414: 'URI Too Long',
  417: 'Expectation Failed',
  431: 'Request Header Fields Too Large',
  499: 'Client Closed Request',
  503: 'Service Unavailable',
  505: 'HTTP Version Not Supported',
};
