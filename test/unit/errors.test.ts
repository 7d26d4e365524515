import { describe, expect, it } from 'vitest';
import {
  ConcurrentUpdateError,
  DeviceNotFoundError,
  DomainError,
  IncidentNotFoundError,
  InvalidCursorError,
  InvalidInputError,
  StoredRecordError,
} from '../../src/domain/errors.js';

describe('the domain errors', () => {
  it.each([
    [
      new InvalidInputError('limit must be at most 100'),
      'InvalidInputError',
      'invalid_input',
      'limit must be at most 100',
    ],
    [new DeviceNotFoundError('thing-1'), 'DeviceNotFoundError', 'not_found', 'device not found'],
    [new IncidentNotFoundError('i-1'), 'IncidentNotFoundError', 'not_found', 'incident not found'],
    [
      new InvalidCursorError(),
      'InvalidCursorError',
      'invalid_cursor',
      'cursor is invalid or was tampered with',
    ],
    [
      new ConcurrentUpdateError('thing-1', 8),
      'ConcurrentUpdateError',
      'concurrent_update',
      'device thing-1 changed concurrently 8 times in a row',
    ],
    [
      new StoredRecordError('device thing-1', 'schemaVersion: Invalid input'),
      'StoredRecordError',
      'stored_record_unreadable',
      'stored record device thing-1 cannot be read: schemaVersion: Invalid input',
    ],
  ])('%s is a DomainError named %s with the code %s', (error, name, code, message) => {
    // Assert
    expect(error).toBeInstanceOf(DomainError);
    expect(error).toMatchObject({ name, code, message });
  });
});
