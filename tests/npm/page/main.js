// A page that embeds the client the way the package's README says: the JS API and the inbox
// element, both from the package, the bridge named by URL (this page is not served by it).
import { connect } from 'pop3-web';
import 'pop3-web/inbox';

const q = new URLSearchParams(location.search);
const inbox = document.querySelector('pop3-inbox');
inbox.setAttribute('bridge', q.get('bridge'));
inbox.setAttribute('server', q.get('host'));
inbox.setAttribute('port', q.get('port'));
inbox.setAttribute('user', q.get('user'));

// The JS API on its own: sign in, count the messages, QUIT.
window.countMessages = async (password) => {
  const session = await connect({ bridgeUrl: q.get('bridge'), host: q.get('host'), port: Number(q.get('port')), security: 'tls', user: q.get('user'), password });
  const list = await session.list();
  await session.quit();
  return list.length;
};
