// The Node peer for bench/telemetry-broadcast.py: a ws server that sends
// the same frame to every client on SIGUSR1, the best way ws offers (the
// text converted to a Buffer once, no compression).
// Usage: NODE_PATH=tests/node_modules node telemetry-broadcast-node.js PORT FRAME_FILE
'use strict';
const fs = require('fs');
const { WebSocketServer } = require('ws');

const [port, framePath] = process.argv.slice(2);
const frame = Buffer.from(fs.readFileSync(framePath, 'utf8'));
const wss = new WebSocketServer({ host: '127.0.0.1', port: Number(port), perMessageDeflate: false, maxPayload: 4096 });

process.on('SIGUSR1', () => {
  for (const client of wss.clients) client.send(frame, { binary: false });
});
process.on('SIGTERM', () => process.exit(0));
