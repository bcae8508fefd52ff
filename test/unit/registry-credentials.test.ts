import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CredentialStore } from '../../src/registry/credential-store.js';
import { PullTickets } from '../../src/registry/pull-tickets.js';
import { openDatabase, type Db } from '../../src/store/database.js';

function addService(db: Db, project: string, name: string): number {
  db.prepare('INSERT OR IGNORE INTO projects (name, created_at) VALUES (?, 0)').run(project);
  const info = db
    .prepare("INSERT INTO services (project, name, health_check, status, created_at) VALUES (?, ?, '{}', 'INACTIVE', 0)")
    .run(project, name);
  return Number(info.lastInsertRowid);
}

describe('CredentialStore', () => {
  let db: Db;
  let now: number;
  let store: CredentialStore;
  let web: number;
  let api: number;

  beforeEach(() => {
    db = openDatabase(':memory:');
    now = 1_000_000;
    store = new CredentialStore(db, { now: () => now });
    web = addService(db, 'exp', 'web');
    api = addService(db, 'exp', 'api');
  });
  afterEach(() => db.close());

  it('verifies issued credentials and names their service', () => {
    const issued = store.issue(web);
    expect(issued.user).toMatch(/^svc-[0-9a-f]{18}$/);
    expect(issued.expiresAt).toBe(now + 12 * 3600 * 1000);
    expect(store.verify(issued.user, issued.password)).toEqual({ serviceId: web, project: 'exp', service: 'web' });
  });

  it('stores only the SHA-256 of the password', () => {
    const issued = store.issue(web);
    const row = db.prepare('SELECT * FROM registry_credentials WHERE user = ?').get(issued.user) as Record<string, unknown>;
    expect(row['secret_hash']).toEqual(createHash('sha256').update(issued.password).digest());
    expect(JSON.stringify(db.prepare('SELECT * FROM registry_credentials').all())).not.toContain(issued.password);
  });

  it('refuses a wrong password, an unknown user, and another credential’s password', () => {
    const a = store.issue(web);
    const b = store.issue(api);
    expect(store.verify(a.user, `${a.password}x`)).toBeNull();
    expect(store.verify('svc-nobody', a.password)).toBeNull();
    expect(store.verify(a.user, b.password)).toBeNull();
  });

  it('refuses expired credentials and prunes them at the next issue', () => {
    const issued = store.issue(web, 1000);
    now += 999;
    expect(store.verify(issued.user, issued.password)).not.toBeNull();
    now += 1;
    expect(store.verify(issued.user, issued.password)).toBeNull();
    store.issue(web);
    expect(db.prepare('SELECT count(*) AS n FROM registry_credentials WHERE user = ?').get(issued.user)).toEqual({ n: 0 });
  });

  it('revokes every credential of one service only', () => {
    const a1 = store.issue(web);
    const a2 = store.issue(web);
    const b = store.issue(api);
    expect(store.revokeAll(web)).toBe(2);
    expect(store.verify(a1.user, a1.password)).toBeNull();
    expect(store.verify(a2.user, a2.password)).toBeNull();
    expect(store.verify(b.user, b.password)).not.toBeNull();
    expect(store.revokeAll(web)).toBe(0);
  });

  it('refuses credentials of a service being deleted', () => {
    const issued = store.issue(web);
    db.prepare("UPDATE services SET status = 'DRAINING' WHERE id = ?").run(web);
    expect(store.verify(issued.user, issued.password)).toBeNull();
  });

  it('forgets credentials when their service row goes', () => {
    store.issue(web);
    db.prepare('DELETE FROM services WHERE id = ?').run(web);
    expect(db.prepare('SELECT count(*) AS n FROM registry_credentials').get()).toEqual({ n: 0 });
  });
});

describe('PullTickets', () => {
  let now = 0;
  const tickets = new PullTickets({ now: () => now }, 60_000);

  it('names the repository of a valid ticket until it expires', () => {
    now = 5_000;
    const ticket = tickets.mint('exp/web');
    expect(tickets.verify(ticket)).toBe('exp/web');
    now += 60_000;
    expect(tickets.verify(ticket)).toBeNull();
  });

  it('refuses a ticket whose body was changed, or another process’s ticket', () => {
    now = 0;
    const ticket = tickets.mint('exp/web');
    const [, mac] = ticket.split('.');
    const forged = `${Buffer.from(JSON.stringify({ r: 'exp/db', e: 10 ** 13 })).toString('base64url')}.${mac}`;
    expect(tickets.verify(forged)).toBeNull();
    expect(new PullTickets({ now: () => now }).verify(ticket)).toBeNull();
    expect(tickets.verify('not-a-ticket')).toBeNull();
    expect(tickets.verify('a.b.c')).toBeNull();
  });
});
