// A Node ws client as an application uses it: connect, read `count`
// samples, print {"cpu": [...], "seq": [...]} as one JSON line.
// Usage: node telemetry-node.js URL COUNT [HEADERS_JSON]
'use strict';
const WebSocket = require('ws');

const [url, countArg, headersArg] = process.argv.slice(2);
const count = Number(countArg || 2);
const ws = new WebSocket(url, { headers: headersArg ? JSON.parse(headersArg) : {} });
const cpu = [];
const seq = [];

const timer = setTimeout(() => {
  console.error(`timed out after ${cpu.length} samples`);
  process.exit(1);
}, 20000);

ws.on('message', (data, isBinary) => {
  if (isBinary) {
    console.error('binary frame');
    process.exit(1);
  }
  const telemetry = JSON.parse(data);
  cpu.push(telemetry.metrics.cpu.cpu_usage_percent);
  seq.push(telemetry.seq);
  if (cpu.length === count) {
    clearTimeout(timer);
    console.log(JSON.stringify({ cpu, seq }));
    ws.close(1000);
  }
});
ws.on('unexpected-response', (req, res) => {
  console.log(JSON.stringify({ status: res.statusCode }));
  process.exit(0);
});
ws.on('error', (err) => {
  console.error(String(err));
  process.exit(1);
});
