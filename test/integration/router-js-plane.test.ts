// The router suites again with the JavaScript plane alone (plane: 'js'): it serves TLS,
// and every request the native plane hands over, so its pooling, codes and framing
// must hold on their own. Each file required registers its tests on this process's tap.
process.env.DYNOD_ROUTER_PLANE = 'js';
/* eslint-disable @typescript-eslint/no-require-imports */
require('./router.test');
require('./router-pool.test');
require('./router-codes.test');
require('./router-bodies.test');
