import { z } from 'zod';
import { InvalidField } from '../errors.js';

/** zod's message for a field: "is required" when absent, else `invalid`. */
export function rule(invalid: string) {
  return { error: (issue: { input: unknown }) => (issue.input === undefined ? 'is required' : invalid) };
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Parses `value` with `schema`; the first problem becomes InvalidField named `prefix.path`. */
export function parseFields<T extends z.ZodType>(schema: T, value: unknown, prefix: string[] = []): z.output<T> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  throw new InvalidField([...prefix, ...issue.path.map(String)].join('.') || 'body', issue.message);
}
