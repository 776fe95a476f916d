//! Ironbark compute: not built yet. This library is empty; it will own ECR repositories, ECS
//! Fargate services behind an HTTPS load balancer, Lambda functions, SQS and SNS (issue 13),
//! then EKS with node groups, add-ons and IRSA, Elastic Beanstalk and EC2 instances (issue 14).
