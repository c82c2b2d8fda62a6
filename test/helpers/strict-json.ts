// A strict JSON line reader for log tests: JSON.parse silently keeps the last of two equal keys,
// which strict consumers reject, so this scans each object's keys and throws on a repeated one.

/** Throws when `text` is not JSON or an object in it repeats a key; returns the parsed value. */
export function parseStrictJson(text: string): unknown {
  const value: unknown = JSON.parse(text); // validity first: the scan below assumes well-formed JSON
  const keys: (Set<string> | undefined)[] = []; // one entry per open object or array
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '{') {
      keys.push(new Set());
      expectKey = true;
    } else if (c === '[') {
      keys.push(undefined);
      expectKey = false;
    } else if (c === '}' || c === ']') {
      keys.pop();
      expectKey = false;
    } else if (c === ',') {
      expectKey = keys[keys.length - 1] !== undefined;
    } else if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        const seen = keys[keys.length - 1]!;
        if (seen.has(key)) throw new Error(`duplicate key "${key}" in ${text}`);
        seen.add(key);
        expectKey = false;
      }
      i = j;
    }
  }
  return value;
}
