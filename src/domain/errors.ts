/** Base of every error the domain raises on purpose; handlers map these to responses in one place. */
export abstract class DomainError extends Error {
  abstract readonly code: string;
}

export class InvalidInputError extends DomainError {
  override name = 'InvalidInputError';
  readonly code = 'invalid_input';
}

export class DeviceNotFoundError extends DomainError {
  override name = 'DeviceNotFoundError';
  readonly code = 'not_found';
  constructor(readonly deviceId: string) {
    super('device not found');
  }
}

export class IncidentNotFoundError extends DomainError {
  override name = 'IncidentNotFoundError';
  readonly code = 'not_found';
  constructor(readonly incidentId: string) {
    super('incident not found');
  }
}

export class InvalidCursorError extends DomainError {
  override name = 'InvalidCursorError';
  readonly code = 'invalid_cursor';
  constructor() {
    super('cursor is invalid or was tampered with');
  }
}

/** Too many concurrent writers kept changing one device; the caller's retry will settle it. */
export class ConcurrentUpdateError extends DomainError {
  override name = 'ConcurrentUpdateError';
  readonly code = 'concurrent_update';
  constructor(
    readonly deviceId: string,
    attempts: number,
  ) {
    super(`device ${deviceId} changed concurrently ${attempts} times in a row`);
  }
}

/** A stored record that this code cannot read (unknown schema version, or damaged). It is never overwritten. */
export class StoredRecordError extends DomainError {
  override name = 'StoredRecordError';
  readonly code = 'stored_record_unreadable';
  constructor(
    readonly key: string,
    readonly reason: string,
  ) {
    super(`stored record ${key} cannot be read: ${reason}`);
  }
}
