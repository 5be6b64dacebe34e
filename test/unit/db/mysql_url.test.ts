/**
 * Database URL parsing shared by the coordinator, the bootstrap node, the
 * demo and the test databases: fields, defaults, decoding, and errors that
 * never echo the password.
 */
import { describe, expect, it } from 'vitest';
import { mysqlFieldsFromUrl, redactUrl } from '#shared/db/mysql_url.ts';

describe('mysqlFieldsFromUrl', () => {
  it('reads host, port, user, password and database', () => {
    expect(mysqlFieldsFromUrl('mysql://alice:s3cret@db.example:3307/whirlpool')).toEqual({
      host: 'db.example',
      port: 3307,
      user: 'alice',
      password: 's3cret',
      database: 'whirlpool',
    });
  });

  it('defaults host, port and user, and leaves database out when the path is empty', () => {
    expect(mysqlFieldsFromUrl('mysql://h')).toEqual({ host: 'h', port: 3306, user: 'root', password: '' });
    expect(mysqlFieldsFromUrl('mariadb://@h/')).toEqual({
      host: 'h',
      port: 3306,
      user: 'root',
      password: '',
    });
    expect(mysqlFieldsFromUrl('mysql://h/d', { defaultUser: '' }).user).toBe('');
  });

  it('decodes percent-escapes and strips IPv6 brackets', () => {
    const f = mysqlFieldsFromUrl('mysql://us%40er:p%3Aw%2Fd@[::1]:3306/my%5Fdb');
    expect(f).toEqual({ host: '::1', port: 3306, user: 'us@er', password: 'p:w/d', database: 'my_db' });
  });

  it('rejects an unparseable URL without echoing it', () => {
    expect(() => mysqlFieldsFromUrl('not a url:secret')).toThrow(/^Database URL is not a valid URL$/);
    expect(() => mysqlFieldsFromUrl('::', { label: '--db-url' })).toThrow(/^--db-url is not a valid URL$/);
  });

  it('rejects another protocol', () => {
    expect(() => mysqlFieldsFromUrl('postgres://u:pw@h/d')).toThrow(
      "Database URL must start with mysql:// or mariadb://, got protocol 'postgres:'",
    );
  });

  it('with requireDatabase, rejects an empty path and redacts the password', () => {
    let message = '';
    try {
      mysqlFieldsFromUrl('mysql://u:topsecret@h:3306/', {
        requireDatabase: true,
        label: 'Bootstrap database URL',
      });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toBe("Bootstrap database URL 'mysql://u:***@h:3306/' names no database (path is empty)");
    expect(message).not.toContain('topsecret');
  });
});

describe('redactUrl', () => {
  it('hides the password only', () => {
    expect(redactUrl('mysql://root:secret@db:3306/w')).toBe('mysql://root:***@db:3306/w');
    expect(redactUrl('mysql://root@db/w')).toBe('mysql://root@db/w');
  });

  it('never echoes an unparseable URL', () => {
    expect(redactUrl('not a url secret')).toBe('<invalid url>');
  });
});
