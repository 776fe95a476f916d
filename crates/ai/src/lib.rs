//! Ironbark ai: not built yet. This library is empty; it will own Bedrock over PrivateLink,
//! knowledge bases on Aurora pgvector or OpenSearch Serverless, invocation logging and
//! guardrails (issue 17).
