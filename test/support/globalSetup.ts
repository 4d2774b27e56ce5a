/** Starts shared services for integration tests (DynamoDB Local is added by the DynamoDB work). */
export default async function globalSetup(): Promise<void> {}
