// Fires the edge job's Cron Trigger on request, as Cloudflare's scheduler would: through a
// service binding's scheduled() (workerd's service_binding_extra_handlers).
export default {
  async fetch(request, env) {
    const { cron } = await request.json();
    return Response.json(await env.JOB.scheduled({ cron }));
  },
};
