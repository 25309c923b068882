/**
 * The name InnoDB's dictionary (information_schema.INNODB_SYS_TABLES.NAME) gives a table: `schema/table`, each part
 * in the server's file-name encoding, where letters, digits and `_` stay and any other ASCII character becomes
 * `@` and its code point in four lower-case hex digits (`it's` → `it@0027s`). Non-ASCII characters have
 * encodings of their own (`é` → `@0p`): for those this returns null, and the caller cannot tell.
 */
export function innodbTableName(schema: string, table: string): string | null {
  const part = (s: string): string | null => {
    let out = '';
    for (const ch of s) {
      const code = ch.codePointAt(0)!;
      if (code > 0x7f) return null;
      out += /[A-Za-z0-9_]/.test(ch) ? ch : `@${code.toString(16).padStart(4, '0')}`;
    }
    return out;
  };
  const s = part(schema);
  const t = part(table);
  return s === null || t === null ? null : `${s}/${t}`;
}
