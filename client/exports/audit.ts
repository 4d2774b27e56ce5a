/** `cachevault/audit`: the hash-chained audit log of security operations. */
export { AuditLog, AuditLogError, AuditEvent, verifyAuditLog, type AuditAnchor, type AuditHead, type AuditKeySource, type AuditMacKey, type AuditRecord, type AuditSink, type AuditStatus, type AuditVerification } from '../audit/auditLog';
export { auditLogPath } from '../createCache';
