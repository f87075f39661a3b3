import { changeWorkflowId } from '../core/change/request';

/** A change id is used once; submitting it again is refused. (No client import: the CLI loads this on every run.) */
export class ChangeAlreadyExistsError extends Error {
  constructor(readonly changeId: string) {
    super(
      `change ${changeId} already exists (workflow ${changeWorkflowId(changeId)}); a change id is used once — pick a new id`,
    );
    this.name = 'ChangeAlreadyExistsError';
  }
}
