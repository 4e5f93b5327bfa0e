/** The consumer-monitoring page: events as they arrive, newest on top. No inline data from the server. */
export const LIVE_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Pulse · live</title>
<style>
  body { font: 14px system-ui, sans-serif; margin: 1.5rem; color: #1d232a; }
  form { display: flex; gap: .5rem; margin-bottom: 1rem; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: .25rem .5rem; border-bottom: 1px solid #e3e6ea; }
  #status { font-weight: 600; }
</style>
</head>
<body>
<h1>Live events</h1>
<p>Status: <span id="status">connecting</span> · <span id="count">0</span> events</p>
<form id="filters"><input name="event" placeholder="event name"><input name="userId" placeholder="userId"><button>Filter</button></form>
<table><thead><tr><th>time</th><th>type</th><th>name</th><th>userId</th><th>anonymousId</th></tr></thead><tbody id="events"></tbody></table>
<script>
  const tenant = location.pathname.split('/')[2];
  const key = new URLSearchParams(location.hash.slice(1)).get('key') || '';
  const status = (text) => { document.getElementById('status').textContent = text; };
  let source;
  let attempt = 0;
  let filters = {};
  let count = 0;
  // The api key goes in a header, for a ticket that opens the stream for a minute: EventSource
  // cannot send headers, and a key in a URL would be kept in histories and proxy logs.
  async function ticket() {
    const response = await fetch('/t/' + encodeURIComponent(tenant) + '/live/tickets', {
      method: 'POST',
      headers: { authorization: 'Bearer ' + key },
    });
    return response.ok ? (await response.json()).ticket : { refused: response.status };
  }
  async function connect() {
    const current = ++attempt;
    if (source) source.close();
    source = undefined;
    const granted = await ticket().catch(() => undefined);
    if (current !== attempt) return;
    if (typeof granted !== 'string') {
      if (granted && (granted.refused === 401 || granted.refused === 403)) return status('not authorised: check the key after #key= in the address');
      status('reconnecting');
      return void setTimeout(() => current === attempt && connect(), 1000);
    }
    const opened = new EventSource('/t/' + encodeURIComponent(tenant) + '/live?' + new URLSearchParams({ ticket: granted, ...filters }));
    source = opened;
    opened.onopen = () => status('live');
    opened.onerror = () => {
      status('reconnecting');
      // EventSource retries by itself with the same URL; once its ticket has expired it gives up.
      if (opened.readyState === EventSource.CLOSED && source === opened) setTimeout(() => source === opened && connect(), 1000);
    };
    opened.addEventListener('message', (message) => {
      const event = JSON.parse(message.data);
      const row = document.createElement('tr');
      row.dataset.messageId = event.messageId;
      for (const value of [event.timestamp, event.type, event.name, event.userId, event.anonymousId]) {
        const cell = document.createElement('td');
        cell.textContent = value ?? '';
        row.appendChild(cell);
      }
      document.getElementById('events').prepend(row);
      document.getElementById('count').textContent = String(++count);
    });
  }
  document.getElementById('filters').addEventListener('submit', (submit) => {
    submit.preventDefault();
    filters = Object.fromEntries([...new FormData(submit.target)].filter(([, v]) => v));
    connect();
  });
  connect();
</script>
</body>
</html>
`;
