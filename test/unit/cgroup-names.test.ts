// How a dyno's cgroup is named (src/cgroup/leaf.ts): dynod/<group>/<name>-<id8>, and what is refused.
import t from 'tap';
import { leafNames, LEGACY_LEAF_RE } from '../../src/cgroup/leaf';

const ID = '3f2a9c1e-7b6d-4c5e-9f00-112233445566';

t.test('group and <name>-<first 8 hex digits of the id>', async (t) => {
  t.same(leafNames({ group: 'run', name: 'web.1', id: ID }), { group: 'run', leaf: 'web.1-3f2a9c1e' });
  t.same(leafNames({ group: 'my-app_2', name: 'worker_3.10', id: ID.toUpperCase() }), { group: 'my-app_2', leaf: 'worker_3.10-3f2a9c1e' }, 'the id in lower case');
  t.same(leafNames({ group: 'a'.repeat(63), name: 'b'.repeat(63), id: ID }).leaf, `${'b'.repeat(63)}-3f2a9c1e`, '63 characters are fine');
});

t.test('bad groups, names and ids are DynodErrors that say what is allowed', async (t) => {
  const bad: Array<[Record<string, unknown>, RegExp]> = [
    [{ group: '', name: 'web.1', id: ID }, /^create cgroup: group "": use letters, digits, "\.", "_" and "-" \(not first\), at most 63 characters$/],
    [{ group: '..', name: 'web.1', id: ID }, /group "\.\."/],
    [{ group: 'a/b', name: 'web.1', id: ID }, /group "a\/b"/],
    [{ group: 'a'.repeat(64), name: 'web.1', id: ID }, /at most 63/],
    [{ group: 'run', name: '.', id: ID }, /name "\."/],
    [{ group: 'run', name: '-x', id: ID }, /name "-x"/],
    [{ group: 'run', name: 'web 1', id: ID }, /name "web 1"/],
    [{ group: 'run', name: 'wéb', id: ID }, /name "wéb"/],
    [{ group: 'run', name: 'b'.repeat(64), id: ID }, /at most 63/],
    [{ group: 'run', name: 'web.1', id: 'xyz' }, /^create cgroup: id "xyz": must start with 8 hex digits/],
    [{ group: 'run', name: 'web.1', id: '3f2a9c' }, /id "3f2a9c"/],
    [{ group: '1234-abcdef01', name: 'web.1', id: ID }, /may not look like a cgroup of an older dynod/],
    [{ group: 'run', name: 7, id: ID }, /name 7/],
  ];
  for (const [spec, message] of bad)
    t.throws(() => leafNames(spec as never), { name: 'DynodError', step: 'create cgroup', code: 'EINVAL', message }, JSON.stringify(spec));
});

t.test('legacy leaves of older dynods: <pid>-<id8>', async (t) => {
  t.ok(LEGACY_LEAF_RE.test('12345-3f2a9c1e'));
  t.notOk(LEGACY_LEAF_RE.test('run'));
  t.notOk(LEGACY_LEAF_RE.test('web.1-3f2a9c1e'));
  t.notOk(LEGACY_LEAF_RE.test('12345-3f2a9c1'));
});
