// @ts-check
// The edge job as a Cloudflare Worker: a Cron Trigger runs `scheduled`, which asks the
// mailbox's Durable Object to check it. The object keeps the UIDLs already posted in its
// storage and runs one check at a time (a slow run and the next trigger never overlap).
//
// Configuration (wrangler.toml's [vars] and secrets, or workerd bindings):
//   ACCOUNT   JSON: { bridgeUrl, host, port, security?, user, token?, deleteAfterPost? }
//   PASSWORD  the mailbox password (a secret)
//   WEBHOOK   the URL each new message is posted to
//   SEEN      the Durable Object namespace of class `Seen`
import { DurableObject } from 'cloudflare:workers';
import * as pop3 from 'pop3-web';
import { checkMailbox } from './check-mailbox.js';

/**
 * @typedef {object} Env
 * @property {string} ACCOUNT
 * @property {string} PASSWORD
 * @property {string} WEBHOOK
 * @property {{ idFromName(name: string): unknown, get(id: unknown): { check(): Promise<object> } }} SEEN
 */

export class Seen extends DurableObject {
  /** @type {{ get(key: string): Promise<unknown>, put(key: string, value: unknown): Promise<void> }} */
  #storage;
  /** @type {Env} */
  #env;
  #running = false;

  /**
   * @param {{ storage: Seen['#storage'] }} ctx
   * @param {Env} env
   */
  constructor(ctx, env) {
    super(ctx, env);
    this.#storage = ctx.storage;
    this.#env = env;
  }

  /** One check of the mailbox; refused while another is running. */
  async check() {
    if (this.#running) return { skipped: 'a check is already running' };
    this.#running = true;
    try {
      const account = { ...JSON.parse(this.#env.ACCOUNT), password: this.#env.PASSWORD };
      const storage = this.#storage;
      return await checkMailbox({
        pop3,
        account,
        webhook: this.#env.WEBHOOK,
        seen: {
          has: async (uid) => (await storage.get(`seen:${uid}`)) !== undefined,
          add: (uid) => storage.put(`seen:${uid}`, Date.now()),
        },
      });
    } finally {
      this.#running = false;
    }
  }
}

export default {
  /**
   * @param {{ cron: string }} controller
   * @param {Env} env
   */
  async scheduled(controller, env) {
    const { user, host } = JSON.parse(env.ACCOUNT);
    const mailbox = env.SEEN.get(env.SEEN.idFromName(`${user}@${host}`));
    const result = await mailbox.check();
    console.log(`checked ${user}@${host} (${controller.cron}): ${JSON.stringify(result)}`);
  },
};
