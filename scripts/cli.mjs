// The command-line conventions every Node tool of the repository follows (standard library only, so that the
// tools answer --help before `npm ci` has run):
//   --help      the usage on stdout, exit 0
//   --version   "<name> (tollgate <workspace version>)" on stdout, exit 0
//   a mistake   (unknown option, missing value, stray argument) one line on stderr, exit 2
//
//   import { parseCli } from '../../scripts/cli.mjs';
//   const { values, positionals } = parseCli({ name: 'mint.mjs', usage: USAGE, options: { alg: { type: 'string' } } });
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The workspace version: `[workspace.package] version` in the root Cargo.toml (the one place it is set). */
export function workspaceVersion(cargoToml = readFileSync(path.join(ROOT, 'Cargo.toml'), 'utf8')) {
  const section = /^\[workspace\.package\]\s*$([\s\S]*?)(?=^\[|(?![\s\S]))/m.exec(cargoToml);
  if (!section) throw new Error('Cargo.toml has no [workspace.package] section');
  const m = /^version\s*=\s*"([^"]+)"\s*$/m.exec(section[1]);
  if (!m) throw new Error('Cargo.toml: [workspace.package] has no version = "…"');
  if (!/^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/.test(m[1])) throw new Error(`Cargo.toml: version "${m[1]}" is not semver`);
  return m[1];
}

/** A mistake on the command line: the caller prints the message as one line and exits 2. */
export class UsageError extends Error {}

/** The one-line wording of node:util parseArgs errors (its own messages run on with advice about `--`). */
function usageMessage(err) {
  const arg = /'(-[^']*)'/.exec(err.message)?.[1];
  switch (err.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${arg ?? err.message}`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      const option = arg?.split(' ')[0] ?? 'an option';
      if (/argument missing/.test(err.message)) return `${option} needs a value`;
      if (/ambiguous/.test(err.message)) return `${option} needs a value; one that starts with "-" is written ${option}=-…`;
      return err.message.split('\n')[0];
    }
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument ${/'([^']*)'/.exec(err.message)?.[1] ?? ''}`.trim();
    default:
      return err.message.split('\n')[0];
  }
}

/**
 * Parse `argv` (default: the process arguments) with node:util parseArgs, strictly, adding --help and --version.
 * Answers --help / --version and exits 0; on a mistake prints "<name>: <what> (see <name> --help)" and exits 2.
 * `check(values, positionals)` may throw UsageError for rules parseArgs cannot express (a number, a choice).
 * `exit` and `write` are for tests.
 */
export function parseCli({
  name,
  usage,
  options = {},
  allowPositionals = false,
  check,
  argv = process.argv.slice(2),
  exit = (code) => process.exit(code),
  write = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) },
}) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean', short: 'h' }, version: { type: 'boolean' } },
      allowPositionals,
      strict: true,
    });
    if (parsed.values.help) {
      write.out(`${usage.trimEnd()}\n`);
      return exit(0);
    }
    if (parsed.values.version) {
      write.out(`${name} (tollgate ${workspaceVersion()})\n`);
      return exit(0);
    }
    check?.(parsed.values, parsed.positionals);
  } catch (err) {
    if (!(err instanceof UsageError) && !err.code?.startsWith('ERR_PARSE_ARGS_')) throw err;
    write.err(`${name}: ${err instanceof UsageError ? err.message : usageMessage(err)} (see ${name} --help)\n`);
    return exit(2);
  }
  return parsed;
}

/** A port number option: an integer 0..65535 (0 = any free port), or a UsageError naming the option. */
export function portOption(values, option) {
  const v = values[option];
  if (v === undefined) return undefined;
  if (!/^\d{1,5}$/.test(v) || Number(v) > 65535) throw new UsageError(`--${option}: not a port number: ${JSON.stringify(v)}`);
  return Number(v);
}
