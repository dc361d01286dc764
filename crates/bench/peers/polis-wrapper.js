// A minimal HTTP wrapper around Ory Polis's directory sync (npm
// @boxyhq/saml-jackson), for `make bench` only. It does what Polis's Next.js
// API route does: parse the SCIM request and hand it to
// directorySyncController.requests.handle().
//
//   node polis-wrapper.js PORT ENGINE [POSTGRES_URL]     ENGINE = mem | sql
//
// POST /admin/directories {"tenant": "..."} creates an Azure SCIM directory and
// answers {"id", "secret"}; SCIM lives under /api/scim/v2.0/<directoryId>/.
'use strict';
const http = require('http');
const jackson = require('@boxyhq/saml-jackson');

const [port, engine, url] = process.argv.slice(2);

async function main() {
  const db = engine === 'sql' ? { engine: 'sql', type: 'postgres', url } : { engine: 'mem' };
  const ctl = await jackson.default({
    externalUrl: `http://127.0.0.1:${port}`,
    samlPath: '/api/oauth/saml',
    scimPath: '/api/scim/v2.0',
    db,
    noAnalytics: true,
    openid: {},
  });
  const dsync = ctl.directorySyncController;

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      try {
        const raw = Buffer.concat(chunks).toString('utf8');
        const body = raw ? JSON.parse(raw) : undefined;
        const u = new URL(req.url, 'http://127.0.0.1');
        if (req.method === 'POST' && u.pathname === '/admin/directories') {
          const { data, error } = await dsync.directories.create({
            tenant: body.tenant,
            product: 'bench',
            name: body.tenant,
            type: 'azure-scim-v2',
          });
          if (error) throw new Error(JSON.stringify(error));
          return send(res, 201, { id: data.id, secret: data.scim.secret });
        }
        const m = u.pathname.match(/^\/api\/scim\/v2\.0\/([^/]+)\/([^/]+)(?:\/([^/]+))?$/);
        if (!m) return send(res, 404, {});
        const auth = req.headers.authorization || '';
        const query = {};
        for (const k of ['count', 'startIndex']) {
          if (u.searchParams.has(k)) query[k] = Number(u.searchParams.get(k));
        }
        if (u.searchParams.has('filter')) query.filter = u.searchParams.get('filter');
        const out = await dsync.requests.handle({
          method: req.method,
          body,
          directoryId: m[1],
          resourceType: m[2],
          resourceId: m[3],
          apiSecret: auth.startsWith('Bearer ') ? auth.slice(7) : null,
          query,
        });
        send(res, out.status, out.data);
      } catch (e) {
        send(res, 500, { detail: String(e && e.message) });
      }
    });
  });
  server.keepAliveTimeout = 60000;
  server.listen(Number(port), '127.0.0.1', () => console.log(`polis wrapper on ${port} (${engine})`));
}

function send(res, status, data) {
  const text = data === undefined ? '' : JSON.stringify(data);
  res.writeHead(status, { 'content-type': 'application/scim+json' });
  res.end(text);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
