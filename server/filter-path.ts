import { isPlainObject } from '../processors/types.js';

/**
 * OpenSearch's `filter_path` response filtering: comma-separated dot paths, `*` inside a name
 * matches any characters, `**` any number of levels, arrays are looked through, and a path that
 * starts with `-` removes what it matches. Shippers use it to shrink bulk answers
 * (Logstash sends `filter_path=errors,items.*.error,items.*.status`).
 */

type Pattern = readonly string[];

/**
 * `*` matches any run of characters. Matched by the classic two-pointer walk, which backtracks to
 * the last star only, so no pattern can take more than O(glob × name) steps (a RegExp built from
 * user input such as `*****...z` can take hours).
 */
function globMatch(glob: string, name: string): boolean {
  if (glob === '*' || glob === name) return true;
  let g = 0;
  let n = 0;
  let star = -1;
  let resume = 0;
  while (n < name.length) {
    if (g < glob.length && glob[g] !== '*' && glob[g] === name[n]) {
      g++;
      n++;
    } else if (g < glob.length && glob[g] === '*') {
      star = g++;
      resume = n;
    } else if (star !== -1) {
      g = star + 1;
      n = ++resume;
    } else {
      return false;
    }
  }
  while (g < glob.length && glob[g] === '*') g++;
  return g === glob.length;
}

/** The patterns that remain after stepping into `key`; an empty pattern means "all of it". */
function step(patterns: readonly Pattern[], key: string): Pattern[] {
  const next: Pattern[] = [];
  for (const p of patterns) {
    const head = p[0]!;
    if (head === '**') {
      next.push(p);
      const rest = p.slice(1);
      if (rest.length === 0) next.push(rest);
      else if (globMatch(rest[0]!, key)) next.push(rest.slice(1));
    } else if (globMatch(head, key)) {
      next.push(p.slice(1));
    }
  }
  return next;
}

function include(value: unknown, patterns: readonly Pattern[]): unknown {
  if (patterns.some((p) => p.length === 0)) return value;
  if (Array.isArray(value)) {
    const out = value.map((v) => include(v, patterns)).filter((v) => v !== undefined);
    return out.length > 0 ? out : undefined;
  }
  if (!isPlainObject(value)) return undefined;
  const out: Record<string, unknown> = {};
  let kept = false;
  for (const [key, child] of Object.entries(value)) {
    const next = step(patterns, key);
    if (next.length === 0) continue;
    const filtered = include(child, next);
    if (filtered !== undefined) {
      out[key] = filtered;
      kept = true;
    }
  }
  return kept ? out : undefined;
}

function exclude(value: unknown, patterns: readonly Pattern[]): unknown {
  if (patterns.some((p) => p.length === 0)) return undefined;
  if (Array.isArray(value)) return value.map((v) => exclude(v, patterns)).filter((v) => v !== undefined);
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    const next = step(patterns, key);
    const kept = next.length === 0 ? child : exclude(child, next);
    if (kept !== undefined) out[key] = kept;
  }
  return out;
}

export function parseFilterPath(param: unknown): { include: Pattern[]; exclude: Pattern[] } | undefined {
  const text = Array.isArray(param) ? param.join(',') : typeof param === 'string' ? param : '';
  const paths = text.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (paths.length === 0) return undefined;
  const inc: Pattern[] = [];
  const exc: Pattern[] = [];
  for (const path of paths) {
    if (path.startsWith('-')) exc.push(path.slice(1).split('.'));
    else inc.push(path.split('.'));
  }
  return { include: inc, exclude: exc };
}

/** Applies a `filter_path` value to a response body; `{}` when nothing matches, as OpenSearch answers. */
export function applyFilterPath(body: unknown, param: unknown): unknown {
  const filter = parseFilterPath(param);
  if (!filter) return body;
  let out = filter.include.length > 0 ? include(body, filter.include) : body;
  if (filter.exclude.length > 0 && out !== undefined) out = exclude(out, filter.exclude);
  return out ?? {};
}
