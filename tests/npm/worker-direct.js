// workerd: the package's workerd entry, in a Worker whose fetch handler runs the direct job.
import * as api from 'pop3-web';
import { run } from './direct-flow.js';

export default {
  /** @param {Request} request */
  async fetch(request) {
    const cfg = await request.json();
    try {
      return Response.json(await run(api, cfg));
    } catch (e) {
      return Response.json({ failed: String(e?.code ?? e), message: String(e?.message ?? e) }, { status: 500 });
    }
  },
};
