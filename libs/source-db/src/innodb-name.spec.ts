import { innodbTableName } from './innodb-name';

describe('innodbTableName', () => {
  it('keeps plain names as they are', () => {
    expect(innodbTableName('shop', 'Orders_2024')).toBe('shop/Orders_2024');
  });

  it('encodes other ASCII characters as @ and four hex digits, in both parts', () => {
    // as MariaDB 10.11 lists `it's a \ table-x.y` of schema `my-db`
    expect(innodbTableName('my-db', "it's a \\ table-x.y")).toBe(
      'my@002ddb/it@0027s@0020a@0020@005c@0020table@002dx@002ey',
    );
  });

  it('gives up on non-ASCII names (their encoding is not a code point)', () => {
    expect(innodbTableName('s', 'café')).toBeNull();
    expect(innodbTableName('ß', 't')).toBeNull();
  });
});
