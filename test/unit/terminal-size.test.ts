import t from 'tap';
import { terminalSize } from '../../src/cli/terminal-size';

t.test("a terminal's size passes to the dyno; one that does not know it (0 × 0) gives none, so the dyno gets 24 × 80", async (t) => {
  t.same(terminalSize({ rows: 30, columns: 100 }), { rows: 30, cols: 100 });
  t.same(terminalSize({ rows: 0, columns: 0 }), { rows: undefined, cols: undefined }, 'script(1)');
  t.same(terminalSize({ rows: 40, columns: 0 }), { rows: undefined, cols: undefined }, 'half a size is none');
  t.same(terminalSize({}), { rows: undefined, cols: undefined }, 'not a terminal');
});
