// `npm run cluster -- N`: N Confab instances behind nginx (round robin, no sticky sessions) on one machine,
// for trying several instances out. Needs PostgreSQL and Redis (DATABASE_URL and REDIS_URL, defaulting to
// the local ones) and nginx (`apt-get install nginx-light`). Ctrl+C stops everything.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const n = Number(process.argv[2] ?? 3);
if (!Number.isInteger(n) || n < 1 || n > 16) {
  console.error('usage: npm run cluster -- N   (1 to 16 instances)');
  process.exit(2);
}
const port = Number(process.env.PORT ?? 8000);
const host = process.env.HOST ?? '127.0.0.1';
const env = {
  ...process.env,
  DATABASE_URL: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  // The browser talks to nginx's origin, not to the instance's.
  ALLOWED_ORIGINS: process.env.ALLOWED_ORIGINS ?? `http://${host}:${port}`,
  TRUST_PROXY: 'true',
};

const children = [];
const stopAll = (code) => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  setTimeout(() => process.exit(code), 500).unref();
};
process.once('SIGINT', () => stopAll(0));
process.once('SIGTERM', () => stopAll(0));

const ports = Array.from({ length: n }, (_, i) => port + 1 + i);
for (const p of ports) {
  const child = spawn(process.execPath, ['dist/server/main.js'], {
    env: { ...env, PORT: String(p), HOST: '127.0.0.1' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  child.once('exit', (code) => console.error(`instance on port ${p} exited (${code})`));
  children.push(child);
}

const dir = mkdtempSync(path.join(tmpdir(), 'confab-nginx-'));
const conf = `
worker_processes 1;
pid ${dir}/nginx.pid;
error_log stderr warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  map $http_upgrade $connection_upgrade { default upgrade; '' close; }
  upstream confab {
    ${ports.map((p) => `server 127.0.0.1:${p} max_fails=1 fail_timeout=2s;`).join('\n    ')}
  }
  server {
    listen ${host}:${port};
    location / {
      proxy_pass http://confab;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $host:${port};
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_read_timeout 1h;
      proxy_next_upstream error timeout;
    }
  }
}`;
writeFileSync(path.join(dir, 'nginx.conf'), conf);
const nginx = spawn('nginx', ['-c', path.join(dir, 'nginx.conf'), '-p', dir, '-g', 'daemon off;'], {
  stdio: ['ignore', 'inherit', 'inherit'],
});
nginx.once('error', (err) => {
  console.error(`could not start nginx (${err.message}); install it with: apt-get install nginx-light`);
  stopAll(1);
});
children.push(nginx);
console.log(`Confab: ${n} instances on ports ${ports.join(', ')}, behind nginx on http://${host}:${port}`);
