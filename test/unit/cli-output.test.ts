import { describe, expect, it } from 'vitest';
import type { ServiceStatusDoc } from '../../src/client/index.js';
import type { CliContext } from '../../src/cli/context.js';
import { shortTime, styleFor, table } from '../../src/cli/output.js';
import { createProgress } from '../../src/cli/progress.js';
import { renderStatus } from '../../src/cli/status-report.js';

const plain = styleFor({ stdout: { write: () => true }, env: {} } as unknown as CliContext);

class Capture {
  text = '';
  constructor(
    readonly isTTY: boolean,
    readonly columns = 60,
  ) {}
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
}

describe('table', () => {
  it('aligns columns by their plain text, without trailing blanks', () => {
    expect(table(['NAME', 'STATUS'], [['web', 'ACTIVE'], ['a-longer-name', '']], plain)).toBe('NAME           STATUS\nweb            ACTIVE\na-longer-name\n');
  });
});

describe('shortTime', () => {
  it('drops the T, the milliseconds and the Z', () => {
    expect(shortTime('2024-05-01T12:03:04.123Z')).toBe('2024-05-01 12:03:04');
  });
});

describe('renderStatus', () => {
  const doc: ServiceStatusDoc = {
    name: 'web',
    links: [
      { href: '/services/web', rel: 'self' },
      { href: 'http://gw/exp-web', rel: 'deployment' },
    ],
    status: {
      service_status: 'ACTIVE',
      count_desired: 2,
      count_running: 1,
      count_pending: 1,
      current_revision: 3,
      crash_looping: true,
      last_exit: 'exit code 3 at 2024-05-01T12:00:00.000Z',
      last_exit_logs: ['starting', 'cannot open /data: permission denied'],
      tasks: [
        {
          task_name: 'web-3-a',
          created_at: '2024-05-01T11:00:00.000Z',
          desired_status: 'RUNNING',
          last_status: 'RUNNING',
          task_definition: { name: 'exp-web', revision: 3, status: 'ACTIVE', container_image: 'demo:1', container_memory_reservation: 16, container_memory_limit: 32, container_port: 80 },
        },
      ],
      events: Array.from({ length: 12 }, (_, i) => ({ created_at: `2024-05-01T12:00:${String(59 - i).padStart(2, '0')}.000Z`, message: `event ${12 - i}` })),
      deployment: {
        id: 7,
        revision: 4,
        previous_revision: 3,
        step: 'health-wait',
        step_description: 'waiting for new tasks to become healthy',
        finished: false,
        reason: null,
        created_at: '2024-05-01T12:00:00.000Z',
        step_started_at: '2024-05-01T12:00:01.000Z',
        finished_at: null,
      },
      target_health: {
        health_check_path: '/exp-web/health',
        interval: 5,
        status_codes: '200-399',
        targets: [{ target: '172.17.0.5', port: 80, health: 'unhealthy', description: 'GET answered 500', task_name: 'web-3-a' }],
      },
    },
  };

  it('shows the summary, the crash loop, tasks with their health, targets and the last ten events oldest first', () => {
    const text = renderStatus(doc, plain);
    expect(text).toContain('Service    web  ACTIVE\n');
    expect(text).toContain('Tasks      1 running / 2 desired, 1 pending\n');
    expect(text).toContain('Deployment 7 of revision 4: health-wait (waiting for new tasks to become healthy, since 2024-05-01 12:00:01)\n');
    expect(text).toContain('! crash-looping: tasks keep exiting; last exit: exit code 3 at 2024-05-01T12:00:00.000Z\n  │ starting\n  │ cannot open /data: permission denied\n');
    expect(text).toMatch(/ {2}web-3-a\s+3\s+RUNNING\s+unhealthy\s+demo:1\n/);
    expect(text).toMatch(/ {2}172\.17\.0\.5:80\s+web-3-a\s+unhealthy\s+GET answered 500\n/);
    const events = text.split('EVENTS\n')[1]?.trim().split('\n') ?? [];
    expect(events).toHaveLength(10);
    expect(events[0]).toMatch(/event 3$/);
    expect(events[9]).toMatch(/event 12$/);
  });

  it('shows each task’s node, and why a pending one waits, when the server tells them (Swarm)', () => {
    const onNodes: ServiceStatusDoc = {
      ...doc,
      status: {
        ...doc.status,
        tasks: [
          { ...(doc.status.tasks[0] as ServiceStatusDoc['status']['tasks'][number]), node: 'worker-2' },
          { ...(doc.status.tasks[0] as ServiceStatusDoc['status']['tasks'][number]), task_name: 'web-4-b', last_status: 'PENDING', waiting: 'no suitable node (insufficient resources on 3 nodes)' },
        ],
      },
    };
    const text = renderStatus(onNodes, plain);
    expect(text).toMatch(/ {2}NAME\s+REVISION\s+STATUS\s+HEALTH\s+NODE\s+IMAGE\s+WAITING\n/);
    expect(text).toMatch(/ {2}web-3-a\s+3\s+RUNNING\s+unhealthy\s+worker-2\s+demo:1\n/);
    expect(text).toMatch(/ {2}web-4-b\s+3\s+PENDING\s+\S+\s+-\s+demo:1\s+no suitable node \(insufficient resources on 3 nodes\)\n/);
  });
});

describe('progress', () => {
  it('prints each new status and each log line once where there is no terminal', () => {
    const out = new Capture(false);
    const p = createProgress(out);
    p.status('starting');
    p.status('starting');
    p.log('an event');
    p.pause();
    p.log('held back');
    expect(out.text).toBe('starting\nan event\n');
    p.resume();
    p.status('done');
    p.stop();
    expect(out.text).toBe('starting\nan event\nheld back\ndone\n');
  });

  it('redraws one line in place on a terminal, cut to its width, with log lines above it', () => {
    const out = new Capture(true, 20);
    let now = 0;
    const p = createProgress(out, () => now);
    p.status('a status that is far too long for twenty columns');
    now = 3000;
    p.log('event one');
    p.stop();
    expect(out.text).toBe('\r\x1b[2K⠋ a status that is…\r\x1b[2Kevent one\n\r\x1b[2K⠋ a status that is…\r\x1b[2K');
  });
});
