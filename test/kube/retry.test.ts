import { describe, expect, jest, test } from '@jest/globals';
import { ApiError } from '../../src/kube/client.js';
import { retryOnConflict } from '../../src/kube/retry.js';

const conflict = () => new ApiError(409, 'Conflict', 'the object has been modified; please apply your changes to the latest version');

describe('retryOnConflict retries 409 Conflict up to N attempts', () => {
  test('succeeds on the third attempt, passing the attempt number, onConflict called per retry', async () => {
    const onConflict = jest.fn();
    const tries: number[] = [];
    const result = await retryOnConflict(async (n) => {
      tries.push(n);
      if (n < 3) throw conflict();
      return 'ok';
    }, onConflict);
    expect(result).toBe('ok');
    expect(tries).toEqual([1, 2, 3]);
    expect(onConflict).toHaveBeenCalledTimes(2);
  });

  test('gives up after `attempts` tries and rethrows the last conflict', async () => {
    let tries = 0;
    const onConflict = jest.fn();
    const err = await retryOnConflict(
      async () => {
        tries++;
        throw conflict();
      },
      onConflict,
      3,
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(409);
    expect(tries).toBe(3);
    expect(onConflict).toHaveBeenCalledTimes(2);
  });

  test('default is 5 attempts', async () => {
    let tries = 0;
    await expect(
      retryOnConflict(async () => {
        tries++;
        throw conflict();
      }),
    ).rejects.toBeInstanceOf(ApiError);
    expect(tries).toBe(5);
  });
});

describe('retryOnConflict rethrows everything else immediately', () => {
  test.each([
    ['409 AlreadyExists', new ApiError(409, 'AlreadyExists', 'exists')],
    ['404 NotFound', new ApiError(404, 'NotFound', 'gone')],
    ['422 Invalid', new ApiError(422, 'Invalid', 'bad')],
    ['a plain Error', new Error('socket hang up')],
    ['a non-Error value', 'string thrown'],
  ])('%s: one attempt, same error', async (_name, error) => {
    let tries = 0;
    const onConflict = jest.fn();
    await expect(
      retryOnConflict(async () => {
        tries++;
        throw error; // eslint-disable-line @typescript-eslint/only-throw-error -- the case under test: a thrown string is rethrown as it is
      }, onConflict),
    ).rejects.toBe(error);
    expect(tries).toBe(1);
    expect(onConflict).not.toHaveBeenCalled();
  });
});
