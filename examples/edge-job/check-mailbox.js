// @ts-check
// The edge job's one piece of logic, the same in a Worker, Deno and Node: check a mailbox
// through the bridge and post each message not seen before (by UIDL) to a webhook as JSON.
//
// Order of effects, so that nothing is lost and nothing is deleted unasked:
//   1. post the message; the webhook's 2xx is the receipt (anything else throws, and the
//      message is posted again next run);
//   2. only then remember its UIDL as seen;
//   3. only when `deleteAfterPost` is set, mark it deleted; QUIT commits the deletions, and a
//      message is marked only once it was posted and remembered.
// A run cut anywhere between 1 and 2 posts that message again next time: at least once.

/**
 * @typedef {object} Account
 * @property {string} bridgeUrl
 * @property {string} host
 * @property {number} port
 * @property {'tls' | 'stls'} [security]
 * @property {string} user
 * @property {string} password
 * @property {string} [token] the bridge's access token, if it requires one
 * @property {boolean} [deleteAfterPost] delete each message from the server once posted (default: never)
 */

/**
 * @typedef {object} Seen what this mailbox's job has posted, kept in the runtime's storage
 * @property {(uid: string) => Promise<boolean>} has
 * @property {(uid: string) => Promise<void>} add
 */

/**
 * @param {{ pop3: typeof import('pop3-web'), account: Account, seen: Seen, webhook: string }} job
 * @returns {Promise<{ messages: number, posted: number, deleted: number }>}
 */
export async function checkMailbox({ pop3, account, seen, webhook }) {
  await pop3.ready(); // the reading module (parseMessage)
  const { deleteAfterPost = false, ...login } = account;
  const session = await pop3.connect({ security: 'tls', ...login });
  let posted = 0;
  let marked = 0;
  try {
    const listing = await session.uidl();
    for (const { msg, uid } of listing) {
      if (!(await seen.has(uid))) {
        const bytes = await session.retr(msg);
        const m = pop3.parseMessage(bytes);
        const answer = await fetch(webhook, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            uid,
            subject: m.subject,
            from: m.from,
            to: m.to,
            date: m.date,
            messageId: m.messageId,
            text: m.text,
            size: bytes.length,
          }),
        });
        if (!answer.ok) throw new Error(`the webhook answered ${answer.status} for ${uid}`);
        await seen.add(uid);
        posted++;
      }
      if (deleteAfterPost) {
        await session.dele(msg);
        marked++;
      }
    }
    const { committed } = await session.quit();
    return { messages: listing.length, posted, deleted: committed ? marked : 0 };
  } catch (e) {
    // Without QUIT the server deletes nothing (RFC 1939 §6).
    session.close();
    throw e;
  }
}
