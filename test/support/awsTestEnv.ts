/**
 * Runs before each aws test file's modules load: the Lambda handlers' Powertools logger and
 * metrics read these when they are constructed, at import. Handlers log and publish nothing to
 * the test output; tests that count metrics spy on addMetric, which still runs.
 */
process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
