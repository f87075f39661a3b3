import { parseWith, readDocument } from './change';
import { policySchema, type Policy } from '../core/policy/schema';

export function parsePolicy(text: string, name = 'policy'): Policy {
  return parseWith(policySchema, text, name);
}

export function loadPolicyFile(path: string): Promise<Policy> {
  return readDocument(policySchema, path, `policy ${path}`);
}
