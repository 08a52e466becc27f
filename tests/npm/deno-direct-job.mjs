// Deno: the package's deno entry with direct sockets (no bridge).
import * as api from 'pop3-web';
import { run } from './direct-flow.js';

const result = await run(api, JSON.parse(Deno.env.get('POP3_JOB')));
console.log(JSON.stringify(result));
