/**
 * Imported first by main.ts, so it runs before any other module of the program is evaluated: on an older
 * Node, one sentence and exit 2 instead of a stack trace from deep inside a dependency.
 */
export const MIN_NODE_MAJOR = 24;

/** The refusal for `version` (e.g. "v20.20.2"), or undefined when it is new enough. */
export function nodeVersionProblem(version: string): string | undefined {
  const major = Number(/^v?(\d+)/.exec(version)?.[1]);
  if (major >= MIN_NODE_MAJOR) return undefined;
  return `sd-gitops-bootstrap needs Node >= ${MIN_NODE_MAJOR}, found ${version.replace(/^v/, '')}: install Node ${MIN_NODE_MAJOR} LTS (or use the image)`;
}

const problem = nodeVersionProblem(process.version);
if (problem) {
  process.stderr.write(`${problem}\n`);
  process.exit(2);
}
