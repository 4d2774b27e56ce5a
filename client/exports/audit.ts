/** `cachevault/audit`: the hash-chained audit log of security operations. */
export { AuditLog, AuditLogError, AuditEvent, verifyAuditLog, type AuditRecord, type AuditSink, type AuditVerification } from '../audit/auditLog';
export { auditLogPath } from '../createCache';
