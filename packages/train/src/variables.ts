import * as tf from '@tensorflow/tfjs';
import { rangeFail, typeFail } from '@mtd/errors';

/**
 * A trainable variable with a stable, unique name. Names key every per-variable state (gradients,
 * Adam moments, EMA shadows) and every tensor of a checkpoint, so a checkpoint loads into a freshly
 * built model by name, whatever order its variables were created in.
 */
export interface NamedVariable {
  readonly name: string;
  readonly variable: tf.Variable;
}

/** Checks a variable list: live float32 variables with unique non-empty names. */
export function checkNamedVariables(where: string, arg: string, list: unknown): readonly NamedVariable[] {
  if (!Array.isArray(list)) typeFail(where, arg, 'an array of { name, variable }', list);
  const seen = new Set<string>();
  list.forEach((entry: unknown, i) => {
    const item = entry as Partial<NamedVariable> | null;
    if (item === null || typeof item !== 'object') typeFail(where, `${arg}[${i}]`, 'an object { name, variable }', entry);
    if (typeof item.name !== 'string' || item.name === '') typeFail(where, `${arg}[${i}].name`, 'a non-empty string', item.name);
    if (seen.has(item.name)) rangeFail(where, `${arg}[${i}].name`, 'unique among the variables', item.name);
    seen.add(item.name);
    if (!(item.variable instanceof tf.Variable)) typeFail(where, `${arg}[${i}].variable`, 'a tf.Variable', item.variable);
    if (item.variable.isDisposed) rangeFail(where, `${arg}[${i}].variable`, 'a live variable', 'a disposed variable');
    if (item.variable.dtype !== 'float32') typeFail(where, `${arg}[${i}].variable`, 'a float32 variable', item.variable);
  });
  return list as readonly NamedVariable[];
}

/** Prefixes every name, e.g. `unet.` + `out.2.weight`. */
export function prefixed(prefix: string, names: readonly string[], variables: readonly tf.Variable[]): NamedVariable[] {
  return variables.map((variable, i) => ({ name: `${prefix}${names[i]!}`, variable }));
}
