// A tiny web app: run it as a dyno with
//   sudo ./bin/dynod run --app examples/hello -p 8080 -- node server.js
// and open http://localhost:8080/
const http = require('node:http');
const os = require('node:os');

const port = Number(process.env.PORT || 5000);
http
  .createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`hello from ${process.env.DYNO} (${os.hostname()}), uid ${process.getuid()}\n`);
  })
  .listen(port, '0.0.0.0', () => console.log(`listening on ${port} as ${process.env.DYNO}`));
process.on('SIGTERM', () => {
  console.log('SIGTERM: shutting down');
  process.exit(0);
});
