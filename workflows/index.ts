export { plannedChange } from './planned';
export { emergencyChange } from './emergency';
export { serviceLock } from './lock';
export { driftScan } from './drift-scan';
