//! Ironbark edge: not built yet. This library is empty; it will own S3 buckets, CloudFront
//! distributions with origin access control, ACM certificates, Route 53 and WAF (issue 15),
//! then API Gateway REST, HTTP and WebSocket APIs (issue 16).
