/**
 * Config loading: parse (zod) → normalise → cross-field rules, collecting every problem with its dot path
 * before failing, so one run tells the user everything that is wrong.
 */
import { access, readFile, stat } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { loadAll } from 'js-yaml';
import type { z } from 'zod';
import { ConfigError, type ConfigProblem } from '../errors.ts';
import { pathKey } from './guards.ts';
import { checkRules } from './rules.ts';
import { configSchema, describeConfig, knownKeysAt } from './schema.ts';
import type { Config } from './types.ts';

// ---------------------------------------------------------------------------------------------------------
// Messages

/** `['environments', 'namespaces', 1, 'name']` → `environments.namespaces[1].name` */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (acc, seg) =>
      typeof seg === 'number'
        ? `${acc}[${seg}]`
        : acc
          ? `${acc}.${pathKey(String(seg))}`
          : pathKey(String(seg)),
    '',
  );
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
    case 'number':
    case 'boolean':
      return `${String(v)} (a ${typeof v})`;
    case 'object':
      return 'a mapping';
    default:
      return typeof v;
  }
}

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  boolean: 'a boolean (true or false)',
  object: 'a mapping',
  array: 'a list',
};

/** Messages for the issues the schema does not word itself. */
const errorMap: z.core.$ZodErrorMap = (iss) => {
  switch (iss.code) {
    case 'invalid_type': {
      if (iss.input === undefined) return 'required';
      const message = `expected ${TYPE_NAMES[iss.expected] ?? iss.expected}, got ${describeValue(iss.input)}`;
      // YAML reads an unquoted 3.5, 0123 or yes as something else than the string that was meant.
      const scalar = typeof iss.input === 'number' || typeof iss.input === 'boolean';
      return iss.expected === 'string' && scalar ? `${message}: put the value in quotes` : message;
    }
    case 'invalid_value':
      return `must be one of ${iss.values.map((v) => JSON.stringify(v)).join(', ')} (got ${describeValue(iss.input)})`;
    default:
      return undefined;
  }
};

/** Optimal string alignment distance: Levenshtein plus adjacent transpositions ("namesapce" → 1). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

let allPaths: string[] | undefined;

function unknownKeyMessage(objectPath: readonly PropertyKey[], key: string): string {
  const known = knownKeysAt(objectPath);
  const scored = known
    .map((k) => ({ k, d: editDistance(key.toLowerCase(), k.toLowerCase()) }))
    .filter(({ k, d }) => d <= Math.max(2, Math.floor(k.length / 3)))
    .sort((x, y) => x.d - y.d);
  if (scored[0]) return `unknown key (did you mean "${scored[0].k}"?)`;
  // A known key at the wrong level: `rolloutTimeout` at the top instead of under `argocd`.
  allPaths ??= describeConfig().map((r) => r.path);
  const elsewhere = allPaths.find((p) => p.split('.').at(-1)?.toLowerCase() === key.toLowerCase());
  if (elsewhere) return `unknown key here (did you mean "${elsewhere}"?)`;
  return known.length > 0 ? `unknown key (known keys here: ${known.join(', ')})` : 'unknown key';
}

/** One zod issue → the problems a person should see (unknown keys one by one, unions resolved). */
function problemsOfIssue(issue: z.core.$ZodIssue, prefix: readonly PropertyKey[] = []): ConfigProblem[] {
  const path = [...prefix, ...issue.path];
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({
      path: formatPath([...path, key]),
      message: unknownKeyMessage(path, key),
    }));
  }
  if (issue.code === 'invalid_union') {
    // When the input has the type of exactly one option (a mapping where "a name or a mapping" was
    // allowed), that option's own problems say more than "must be A or B".
    const typeMatched = issue.errors.filter(
      (errs) =>
        !errs.some((e) => e.path.length === 0 && (e.code === 'invalid_type' || e.code === 'invalid_value')),
    );
    if (typeMatched.length === 1) return typeMatched[0]!.flatMap((e) => problemsOfIssue(e, path));
  }
  return [{ path: formatPath(path), message: issue.message }];
}

function dedupe(problems: ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const k = `${p.path}\n${p.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

// ---------------------------------------------------------------------------------------------------------
// Parsing

const isMapping = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A key with no value (`logging:` with everything below commented out) means "not set", as in Helm values,
 * so its default applies instead of "expected a mapping, got null".
 */
function dropNulls(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(dropNulls);
  if (!isMapping(v)) return v;
  return Object.fromEntries(
    Object.entries(v)
      .filter(([, x]) => x !== null)
      .map(([k, x]) => [k, dropNulls(x)]),
  );
}

export type CheckResult = { ok: true; config: Config } | { ok: false; problems: ConfigProblem[] };

/** Like parseConfig, without throwing: the config, or every problem found. */
export function checkConfig(input: unknown): CheckResult {
  if (input === null || input === undefined) {
    return {
      ok: false,
      problems: [
        {
          path: '',
          message:
            'the configuration is empty: at least git.repoUrl and environments.namespaces are required',
        },
      ],
    };
  }
  if (!isMapping(input)) {
    return {
      ok: false,
      problems: [
        {
          path: '',
          message: `the configuration must be a mapping of keys (argocd, git, environments, …), got ${describeValue(input)}`,
        },
      ],
    };
  }
  const raw = dropNulls(input) as Record<string, unknown>;
  const parsed = configSchema.safeParse(raw, { error: errorMap });
  if (parsed.success) {
    const problems = checkRules(parsed.data);
    return problems.length === 0 ? { ok: true, config: parsed.data } : { ok: false, problems };
  }
  // Rules still run on the sections that are valid, so one run reports everything it can.
  const sections: Partial<Config> = {};
  for (const [key, schema] of Object.entries(configSchema.shape)) {
    const r = schema.safeParse(raw[key]);
    if (r.success) (sections as Record<string, unknown>)[key] = r.data;
  }
  const problems = [...parsed.error.issues.flatMap((i) => problemsOfIssue(i)), ...checkRules(sections)];
  return { ok: false, problems: dedupe(problems) };
}

/** Validates and normalises a config object (already parsed from YAML). Throws one ConfigError with every problem. */
export function parseConfig(input: unknown): Config {
  const result = checkConfig(input);
  if (!result.ok) throw new ConfigError(result.problems);
  return result.config;
}

// ---------------------------------------------------------------------------------------------------------
// Files

function withFile(error: ConfigError, file: string): ConfigError {
  error.message = error.message.replace(/^invalid configuration/, `invalid configuration in ${file}`);
  return error;
}

function fileProblem(file: string, message: string): ConfigError {
  return withFile(new ConfigError([{ path: '', message }]), file);
}

function readErrorMessage(file: string, err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') {
    return `config file ${file} does not exist (not found; pass --config FILE or set SD_BOOTSTRAP_CONFIG)`;
  }
  if (code === 'EISDIR') return `config file ${file} is a directory, not a file`;
  if (code === 'EACCES') return `config file ${file} is not readable (permission denied)`;
  return `cannot read config file ${file}: ${(err as Error).message}`;
}

/**
 * Resource limits of the config file, enforced before anything walks the document: a YAML alias is a shared
 * reference, so a 400-byte file of nested aliases parses in milliseconds and expands to a billion nodes in
 * whatever walks it next (here: the schema, which would allocate gigabytes). A real config is a few KB, a few
 * hundred nodes, a handful of anchors and six levels deep.
 */
export const YAML_LIMITS = {
  /** Bytes of the file. */
  maxBytes: 1024 * 1024,
  /** Alias nodes (`*ref`) in the document. */
  maxAliases: 100,
  /** Nesting of collections as written. */
  maxDepth: 50,
  /** Nodes of the document with every alias expanded, and their nesting. */
  maxNodes: 100_000,
  maxExpandedDepth: 64,
} as const;

/**
 * Counts the document's nodes as a walk would see them (aliases expanded), stopping at the first limit: the
 * dot path where it was reached, or undefined within the limits. Never expands more than `maxNodes`.
 */
export function expansionProblem(doc: unknown): { path: string; message: string } | undefined {
  let nodes = 0;
  const stack: { value: unknown; path: PropertyKey[] }[] = [{ value: doc, path: [] }];
  while (stack.length > 0) {
    const { value, path } = stack.pop()!;
    nodes++;
    if (nodes > YAML_LIMITS.maxNodes)
      return {
        path: formatPath(path),
        message: `the document expands to more than ${YAML_LIMITS.maxNodes} values (YAML aliases repeat what they name): write the values out, or use fewer nested aliases`,
      };
    if (path.length > YAML_LIMITS.maxExpandedDepth)
      return {
        path: formatPath(path),
        message: `nested more than ${YAML_LIMITS.maxExpandedDepth} levels deep (through aliases): a configuration is a few levels deep`,
      };
    if (Array.isArray(value))
      for (const [i, v] of value.entries()) stack.push({ value: v, path: [...path, i] });
    else if (isMapping(value))
      for (const [k, v] of Object.entries(value)) stack.push({ value: v, path: [...path, k] });
  }
  return undefined;
}

/** YAML text → one document; empty, multi-document and syntax errors are ConfigErrors naming the file. */
export function parseYaml(text: string, file: string): unknown {
  let docs: unknown[];
  if (Buffer.byteLength(text, 'utf8') > YAML_LIMITS.maxBytes) throw fileProblem(file, tooLarge(file));
  try {
    docs = loadAll(text, {
      filename: file,
      maxAliases: YAML_LIMITS.maxAliases,
      maxDepth: YAML_LIMITS.maxDepth,
    });
  } catch (err) {
    const e = err as { reason?: string; mark?: { line: number; column: number; snippet?: string | null } };
    if (e.reason?.includes('maxAliases') || e.reason?.includes('maxDepth')) {
      const at = e.mark ? ` at line ${e.mark.line + 1}, column ${e.mark.column + 1}` : '';
      throw fileProblem(
        file,
        e.reason.includes('maxAliases')
          ? `${file} uses more than ${YAML_LIMITS.maxAliases} YAML aliases${at}: write the values out instead of repeating anchors`
          : `${file} nests collections more than ${YAML_LIMITS.maxDepth} levels deep${at}: a configuration is a few levels deep`,
      );
    }
    if (e.mark) {
      const snippet = e.mark.snippet ? `\n${e.mark.snippet.replace(/^/gm, '      ')}` : '';
      throw fileProblem(
        file,
        `YAML syntax error in ${file} at line ${e.mark.line + 1}, column ${e.mark.column + 1}: ${e.reason}${snippet}`,
      );
    }
    throw fileProblem(file, `YAML syntax error in ${file}: ${e.reason ?? (err as Error).message}`);
  }
  if (docs.length > 1) {
    throw fileProblem(
      file,
      `${file} holds ${docs.length} YAML documents; the configuration must be one document`,
    );
  }
  if (docs.length === 0 || docs[0] === null || docs[0] === undefined) {
    throw fileProblem(
      file,
      `config file ${file} is empty: at least git.repoUrl and environments.namespaces are required`,
    );
  }
  const expansion = expansionProblem(docs[0]);
  if (expansion) throw withFile(new ConfigError([expansion]), file);
  return docs[0];
}

function tooLarge(file: string): string {
  return `${file} is larger than ${YAML_LIMITS.maxBytes / 1024 / 1024} MiB: a configuration is a few KB (is it the right file?)`;
}

/**
 * Reads, parses and validates the config file. A relative `argocd.install.file` is resolved against the
 * file's directory (and must exist), so a config and its manifest can travel together.
 */
export async function loadConfigFile(path: string): Promise<Config> {
  let text: string;
  try {
    // Refused before it is read into memory; parseYaml checks the text read once more.
    if ((await stat(path)).size > YAML_LIMITS.maxBytes) throw fileProblem(path, tooLarge(path));
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    // One line, not "invalid configuration (1 problem)": the file is missing or unreadable, not wrong.
    const error = new ConfigError([{ path: '', message: readErrorMessage(path, err) }]);
    error.message = readErrorMessage(path, err);
    throw error;
  }
  const result = checkConfig(parseYaml(text, path));
  if (!result.ok) throw withFile(new ConfigError(result.problems), path);
  const config = result.config;
  const install = config.argocd.install;
  if (install.source === 'file' && install.file !== undefined) {
    const file = isAbsolute(install.file) ? install.file : resolve(dirname(resolve(path)), install.file);
    try {
      await access(file);
    } catch {
      throw withFile(
        new ConfigError([
          {
            path: 'argocd.install.file',
            message:
              file === install.file
                ? `${file} does not exist`
                : `${file} does not exist (relative paths are resolved against the config file's directory)`,
          },
        ]),
        path,
      );
    }
    install.file = file;
  }
  return config;
}
