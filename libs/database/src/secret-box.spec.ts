import { SecretBox } from './secret-box';

describe('SecretBox', () => {
  it('round-trips and never stores the plain text', () => {
    const box = new SecretBox('k');
    const blob = box.encrypt('s3cret');
    expect(blob).not.toContain('s3cret');
    expect(box.encrypt('s3cret')).not.toBe(blob); // random IV
    expect(box.decrypt(blob)).toBe('s3cret');
  });

  it('refuses a wrong key or tampered data', () => {
    const blob = new SecretBox('a').encrypt('x');
    expect(() => new SecretBox('b').decrypt(blob)).toThrow(/cannot be decrypted/);
    expect(() => new SecretBox('a').decrypt('garbage')).toThrow(/unknown format/);
  });
});
