// A livelogd stream reader in Node's `ws`, for the integration tests.
//
//   node livelogs-collect.js URL COUNT
//
// Prints {"open":true} once connected, then every text message it receives
// as {"m": "<message>"} on its own line, until COUNT messages arrived (then
// {"done":true}) or the server closed ({"closed":CODE}). Each message is
// decoded with a strict (fatal) UTF-8 decoder rather than trusting ws: a
// frame that is not valid UTF-8 ends the run with {"invalid_utf8":N}.
'use strict';
const WebSocket = require('ws');

const [url, countArg] = process.argv.slice(2);
const count = Number(countArg);
const strict = new TextDecoder('utf-8', { fatal: true });
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');

const ws = new WebSocket(url, { skipUTF8Validation: true, maxPayload: 16 * 1024 * 1024 });
let n = 0;

ws.on('open', () => out({ open: true }));
ws.on('message', (data, isBinary) => {
  if (isBinary) {
    out({ binary: n });
    process.exit(1);
  }
  let text;
  try {
    text = strict.decode(data);
  } catch (e) {
    out({ invalid_utf8: n });
    process.exit(1);
  }
  out({ m: text });
  if (++n === count) {
    out({ done: true });
    ws.close(1000);
  }
});
ws.on('unexpected-response', (req, res) => {
  out({ refused: res.statusCode });
  process.exit(1);
});
ws.on('close', (code) => {
  if (n !== count) out({ closed: code });
  process.exit(0);
});
ws.on('error', (e) => {
  out({ error: String(e) });
  process.exit(1);
});
