import { describe, expect, it } from 'vitest';
import { sameRoutes, type Route } from '../../src/gateway/gateway.js';
import { renderRouteTable } from '../../src/gateway/route-table-file.js';

const blue = { host: '10.0.0.2', port: 80 };
const green = { host: '10.0.0.3', port: 8080 };

describe('route table format 2: colours', () => {
  it('adds a line per colour after its route, and says so on the first line', () => {
    const routes: Route[] = [
      { prefix: '/exp-web', targets: [{ host: '10.0.0.1', port: 80 }] },
      { prefix: '/exp-nmpi', targets: [blue], colours: [{ colour: 'blue', targets: [blue] }, { colour: 'green', targets: [green] }] },
      { prefix: '/exp-down', targets: [], colours: [{ colour: 'blue', targets: [] }] },
    ];
    expect(renderRouteTable(routes)).toEqual({
      text: '#berth-routes 2\n/exp-web 10.0.0.1:80\n/exp-nmpi 10.0.0.2:80\n/exp-nmpi/blue 10.0.0.2:80\n/exp-nmpi/green 10.0.0.3:8080\n/exp-down\n/exp-down/blue\n',
      rejected: [],
    });
  });

  it('stays format 1, byte for byte, while no route has colours', () => {
    expect(renderRouteTable([{ prefix: '/exp-web', targets: [blue], colours: [] }]).text).toBe('/exp-web 10.0.0.2:80\n');
  });

  it('leaves out a route with a colour the module could not key, or a colour twice, and keeps the others', () => {
    const good: Route = { prefix: '/good', targets: [blue] };
    for (const colour of ['Green', 'gr-een', 'green2', '', 'x'.repeat(17), 'a b']) {
      const table = renderRouteTable([good, { prefix: '/exp-nmpi', targets: [], colours: [{ colour, targets: [green] }] }]);
      expect(table.text, colour).toBe('/good 10.0.0.2:80\n');
      expect(table.rejected, colour).toEqual([{ index: 1, prefix: '/exp-nmpi', reason: expect.stringMatching(/colours\[0\]\.colour/) }]);
    }
    const twice = renderRouteTable([{ prefix: '/exp-nmpi', targets: [], colours: [{ colour: 'blue', targets: [] }, { colour: 'blue', targets: [] }] }]);
    expect(twice.rejected[0]?.reason).toMatch(/colours\[1\]\.colour/);
    const badTarget = renderRouteTable([{ prefix: '/exp-nmpi', targets: [], colours: [{ colour: 'blue', targets: [{ host: 'db', port: 80 }] }] }]);
    expect(badTarget.rejected[0]?.reason).toMatch(/colours\[0\]\.targets\[0\]\.host/);
  });

  it('tells tables apart by their colours’ targets too', () => {
    const a: Route = { prefix: '/x', targets: [blue], colours: [{ colour: 'blue', targets: [blue] }, { colour: 'green', targets: [green] }] };
    expect(sameRoutes([a], [{ ...a }])).toBe(true);
    expect(sameRoutes([a], [{ ...a, colours: [{ colour: 'blue', targets: [blue] }, { colour: 'green', targets: [] }] }])).toBe(false);
    expect(sameRoutes([a], [{ ...a, colours: [{ colour: 'blue', targets: [blue] }] }])).toBe(false);
    expect(sameRoutes([a], [{ prefix: '/x', targets: [blue] }])).toBe(false);
  });
});
