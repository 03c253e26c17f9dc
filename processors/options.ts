import { ConfigError } from '../server/errors.js';

/**
 * Processor options are checked once, when the pipeline is built. An unknown key is an error, not
 * a silently ignored typo, and the message names the processor, its tag and the property.
 */
export function checkOptions<T extends object>(type: string, tag: string, options: T, known: readonly (keyof T)[]): T {
  for (const key of Object.keys(options)) {
    if (!known.includes(key as keyof T)) {
      throw new ConfigError(`[${type}][${tag}] ${key}`, `unknown property (known: ${known.join(', ')})`);
    }
  }
  return options;
}

export function optionError(type: string, tag: string, property: string, message: string): ConfigError {
  return new ConfigError(`[${type}][${tag}] ${property}`, message);
}
