// The edge job as a Node.js or Deno script (run it from cron or a systemd timer):
//   node run.mjs job.json      deno run --allow-net --allow-read --allow-write run.mjs job.json
// job.json: { "account": { bridgeUrl, host, port, user, password, deleteAfterPost? },
//             "webhook": "https://…", "seenFile": "seen.json" }
// The UIDLs already posted are kept in seenFile, replaced atomically after each message.
import { readFile, writeFile, rename } from 'node:fs/promises';
import * as pop3 from 'pop3-web';
import { checkMailbox } from './check-mailbox.js';

if (typeof globalThis.WebSocket !== 'function') {
  // Node 20: the ws package's WebSocket.
  const { WebSocket } = await import('ws');
  pop3.useWebSocket(WebSocket);
}

const job = JSON.parse(await readFile(process.argv[2] ?? 'job.json', 'utf8'));
/** @type {Set<string>} */
const seen = new Set(JSON.parse(await readFile(job.seenFile, 'utf8').catch(() => '[]')));
const result = await checkMailbox({
  pop3,
  account: job.account,
  webhook: job.webhook,
  seen: {
    has: async (uid) => seen.has(uid),
    add: async (uid) => {
      seen.add(uid);
      await writeFile(`${job.seenFile}.tmp`, JSON.stringify([...seen]));
      await rename(`${job.seenFile}.tmp`, job.seenFile);
    },
  },
});
console.log(JSON.stringify(result));
