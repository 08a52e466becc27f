// Node: the package's node entry; on Node 20 with the `ws` package's WebSocket.
import * as api from 'pop3-web';
import { run } from './flow.js';

if (typeof globalThis.WebSocket !== 'function') {
  const { WebSocket } = await import('ws');
  api.useWebSocket(WebSocket);
}
const result = await run(api, JSON.parse(process.env.POP3_JOB));
console.log(JSON.stringify(result));
