/**
 * The management API's answers (issue 16 §2), declared so that the response serializer
 * drops anything undeclared: the routes name them as their success responses, and the
 * CLI reads answers through their types.
 */
export { AuditEntry, AuditPage } from './audit-view.js'
export {
  DeviceDetailView,
  DeviceList,
  DeviceView,
  DownloadProgressView,
  ExplanationView,
  InstalledView,
  InventoryFactsView,
  InventoryView,
  IntegrityFlagView,
  MemberView,
  SecurityEventView,
} from './device-view.js'
export { DryRunView, GateDecisionView, GateView, RolloutList, RolloutRecord, RolloutView, SelectorView } from './rollout-view.js'
export { EnrollmentTokenList, EnrollmentTokenView, IssuedEnrollmentToken } from './token-view.js'
