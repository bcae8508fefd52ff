import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
export { berthCli, type CliResult } from './cli-process.js';

const REPO = join(import.meta.dirname, '../..');

/** The Redis image real compose files name; built from Debian's redis-server (nothing can be pulled). */
export function ensureRedisImage(): void {
  try {
    execFileSync('docker', ['image', 'inspect', 'redis:alpine'], { stdio: 'ignore' });
  } catch {
    execFileSync('bash', [join(REPO, 'scripts/build-redis-image.sh'), 'redis:alpine'], { stdio: 'pipe' });
  }
}

/** Writes files (path → content; a trailing `*` on a path makes it executable) under a new directory named `name`. */
export function writeProject(name: string, files: Readonly<Record<string, string>>): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'berth-stack-')), name);
  for (const [path, content] of Object.entries(files)) {
    const executable = path.endsWith('*');
    const file = join(dir, executable ? path.slice(0, -1) : path);
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(file, content);
    if (executable) chmodSync(file, 0o755);
  }
  return dir;
}

/**
 * KGE's server in the manner of its compose file: a web service that enqueues a task in
 * Redis and reports its progress, a worker that takes tasks and records progress, and Redis.
 * web and worker are one image built from a Dockerfile FROM redis:alpine (busybox's nc serves
 * one HTTP request per connection).
 */
export const KGE_FILES: Record<string, string> = {
  'docker-compose.yml': `services:
  web:
    build: ./web
    image: kge-web
    ports: ["8000:8000"]
    environment:
      REDIS_HOST: redis
    depends_on:
      redis: {condition: service_healthy}
  worker:
    image: kge-web
    command: ["/bin/worker.sh"]
    environment:
      REDIS_HOST: redis
    depends_on: [redis]
  redis:
    image: redis:alpine
    healthcheck:
      test: ["CMD", "redis-cli", "ping"]
      interval: 1s
      timeout: 2s
      retries: 20
    volumes: [redis-data:/data]
volumes:
  redis-data: {}
`,
  'web/Dockerfile': `FROM redis:alpine
COPY handler.sh worker.sh /bin/
CMD ["nc", "-ll", "-p", "8000", "-e", "/bin/handler.sh"]
`,
  'web/handler.sh*': `#!/bin/sh
read -r method path proto
while read -r line; do
  case "$line" in ''|"$(printf '\\r')") break ;; esac
done
case "$path" in
  */enqueue*) id=$(redis-cli -h "$REDIS_HOST" incr tasks); redis-cli -h "$REDIS_HOST" rpush queue "$id" >/dev/null; body="queued $id" ;;
  */progress/*) id=\${path##*/}; body="progress $(redis-cli -h "$REDIS_HOST" get "progress:$id")" ;;
  *) body="kge web \${GREETING:-}" ;;
esac
printf 'HTTP/1.0 200 OK\\r\\nContent-Type: text/plain\\r\\nContent-Length: %s\\r\\n\\r\\n%s' "\${#body}" "$body"
`,
  'web/worker.sh*': `#!/bin/sh
while true; do
  id=$(redis-cli -h "$REDIS_HOST" blpop queue 0 | tail -n 1)
  [ -n "$id" ] || { sleep 1; continue; }
  for step in 1 2 3; do
    redis-cli -h "$REDIS_HOST" set "progress:$id" "$step/3" >/dev/null
    sleep 0.2
  done
  redis-cli -h "$REDIS_HOST" set "progress:$id" "done" >/dev/null
done
`,
};
