// Node: the package's node entry with direct sockets (no bridge, no WebSocket needed).
import * as api from 'pop3-web';
import { run } from './direct-flow.js';

const result = await run(api, JSON.parse(process.env.POP3_JOB));
console.log(JSON.stringify(result));
