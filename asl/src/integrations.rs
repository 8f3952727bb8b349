//! The optimized service integrations Step Functions recognises in a Task's `Resource`
//! (`arn:aws:states:::<service>:<api>[.sync | .sync:2 | .waitForTaskToken]`), with the integration
//! patterns each API supports, from AWS's "Integrating optimized services with Step Functions" and
//! the page of each service.

/// How a Task waits for an integrated service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    /// Request a response: no suffix.
    RequestResponse,
    /// Run a job: `.sync`.
    Sync,
    /// `.sync:2`: `states:startExecution` only.
    Sync2,
    /// Wait for a callback: `.waitForTaskToken`.
    WaitForTaskToken,
}

impl Pattern {
    /// The pattern a resource suffix names, or `None` for a suffix that is not a pattern.
    pub fn from_suffix(suffix: &str) -> Option<Pattern> {
        match suffix {
            "sync" => Some(Pattern::Sync),
            "sync:2" => Some(Pattern::Sync2),
            "waitForTaskToken" => Some(Pattern::WaitForTaskToken),
            _ => None,
        }
    }

    /// The pattern a Task's `Resource` ends with (`….waitForTaskToken`…); request-response when
    /// its suffix names none.
    pub fn of_resource(resource: &str) -> Pattern {
        resource
            .rsplit_once('.')
            .and_then(|(_, suffix)| Pattern::from_suffix(suffix))
            .unwrap_or(Pattern::RequestResponse)
    }
}

/// Request-response only.
const RR: &[Pattern] = &[Pattern::RequestResponse];
/// Request-response and run-a-job.
const RR_SYNC: &[Pattern] = &[Pattern::RequestResponse, Pattern::Sync];
/// Request-response and wait-for-callback.
const RR_TOKEN: &[Pattern] = &[Pattern::RequestResponse, Pattern::WaitForTaskToken];
/// All three.
const ALL: &[Pattern] = &[Pattern::RequestResponse, Pattern::Sync, Pattern::WaitForTaskToken];

/// `states:startExecution`: every pattern, `.sync:2` included.
const START_EXECUTION: &[Pattern] =
    &[Pattern::RequestResponse, Pattern::Sync, Pattern::Sync2, Pattern::WaitForTaskToken];

/// `service:api` and the patterns it supports.
const OPTIMIZED: &[(&str, &[Pattern])] = &[
    // Amazon API Gateway
    ("apigateway:invoke", RR_TOKEN),
    // Amazon Athena
    ("athena:startQueryExecution", RR_SYNC),
    ("athena:stopQueryExecution", RR),
    ("athena:getQueryExecution", RR),
    ("athena:getQueryResults", RR),
    // AWS Batch
    ("batch:submitJob", RR_SYNC),
    // Amazon Bedrock. The service table lists a callback pattern for Bedrock without saying which
    // API takes it; both are allowed it here (not confirmed).
    ("bedrock:invokeModel", RR_TOKEN),
    ("bedrock:createModelCustomizationJob", ALL),
    // AWS CodeBuild
    ("codebuild:startBuild", RR_SYNC),
    ("codebuild:stopBuild", RR),
    ("codebuild:batchDeleteBuilds", RR),
    ("codebuild:batchGetReports", RR),
    ("codebuild:startBuildBatch", RR_SYNC),
    ("codebuild:stopBuildBatch", RR),
    ("codebuild:retryBuildBatch", RR_SYNC),
    ("codebuild:deleteBuildBatch", RR),
    // Amazon DynamoDB
    ("dynamodb:getItem", RR),
    ("dynamodb:putItem", RR),
    ("dynamodb:updateItem", RR),
    ("dynamodb:deleteItem", RR),
    // Amazon ECS / Fargate
    ("ecs:runTask", ALL),
    // Amazon EKS
    ("eks:createCluster", RR_SYNC),
    ("eks:deleteCluster", RR_SYNC),
    ("eks:createFargateProfile", RR_SYNC),
    ("eks:deleteFargateProfile", RR_SYNC),
    ("eks:createNodegroup", RR_SYNC),
    ("eks:deleteNodegroup", RR_SYNC),
    ("eks:runJob", RR_SYNC),
    ("eks:call", RR),
    // Amazon EMR
    ("elasticmapreduce:createCluster", RR_SYNC),
    ("elasticmapreduce:terminateCluster", RR_SYNC),
    ("elasticmapreduce:addStep", RR_SYNC),
    ("elasticmapreduce:cancelStep", RR),
    ("elasticmapreduce:setClusterTerminationProtection", RR),
    ("elasticmapreduce:modifyInstanceFleetByName", RR),
    ("elasticmapreduce:modifyInstanceGroupByName", RR),
    // Amazon EMR on EKS
    ("emr-containers:createVirtualCluster", RR),
    ("emr-containers:deleteVirtualCluster", RR_SYNC),
    ("emr-containers:startJobRun", RR_SYNC),
    // Amazon EMR Serverless
    ("emr-serverless:createApplication", RR_SYNC),
    ("emr-serverless:startApplication", RR_SYNC),
    ("emr-serverless:stopApplication", RR_SYNC),
    ("emr-serverless:deleteApplication", RR_SYNC),
    ("emr-serverless:startJobRun", RR_SYNC),
    ("emr-serverless:cancelJobRun", RR_SYNC),
    // Amazon EventBridge
    ("events:putEvents", RR_TOKEN),
    // AWS Glue
    ("glue:startJobRun", RR_SYNC),
    // AWS Glue DataBrew
    ("databrew:startJobRun", RR_SYNC),
    // AWS Lambda
    ("lambda:invoke", RR_TOKEN),
    // AWS Elemental MediaConvert
    ("mediaconvert:createJob", RR_SYNC),
    // Amazon SageMaker AI
    ("sagemaker:createEndpoint", RR),
    ("sagemaker:createEndpointConfig", RR),
    ("sagemaker:createHyperParameterTuningJob", RR_SYNC),
    ("sagemaker:createLabelingJob", RR_SYNC),
    ("sagemaker:createModel", RR),
    ("sagemaker:createProcessingJob", RR_SYNC),
    ("sagemaker:createTrainingJob", RR_SYNC),
    ("sagemaker:createTransformJob", RR_SYNC),
    ("sagemaker:updateEndpoint", RR),
    // Amazon SNS
    ("sns:publish", RR_TOKEN),
    // Amazon SQS
    ("sqs:sendMessage", RR_TOKEN),
    // AWS Step Functions
    ("states:startExecution", START_EXECUTION),
    // HTTPS endpoints (the HTTP Task)
    ("http:invoke", RR),
    // The S3 actions of Distributed Map item readers and result writers.
    ("s3:getObject", RR),
    ("s3:putObject", RR),
    ("s3:listObjectsV2", RR),
];

/// Whether `arn:aws:states:::<integration>` is a resource Step Functions recognises; `integration` is
/// `service:api` with its pattern suffix, if any. SDK integrations (`aws-sdk:<service>:<action>`)
/// are all recognised with request-response and callbacks; their actions are not checked, and
/// `.sync`, which AWS documents as unsupported for them, is refused as an unknown resource (the
/// wording AWS uses for that case could not be confirmed).
pub fn is_recognised(integration: &str) -> bool {
    let (api, pattern) = split_pattern(integration);
    let Some(pattern) = pattern else { return false };
    if api.starts_with("aws-sdk:") {
        return matches!(pattern, Pattern::RequestResponse | Pattern::WaitForTaskToken);
    }
    OPTIMIZED.iter().any(|(name, patterns)| *name == api && patterns.contains(&pattern))
}

/// `service:api` and the pattern its suffix names (`None` for a suffix that names no pattern).
pub fn split_pattern(integration: &str) -> (&str, Option<Pattern>) {
    match integration.split_once('.') {
        Some((api, suffix)) => (api, Pattern::from_suffix(suffix)),
        None => (integration, Some(Pattern::RequestResponse)),
    }
}

/// True when `resource` names an activity: `arn:<partition>:states:<region>:<account>:activity:<name>`.
pub fn is_activity_arn(resource: &str) -> bool {
    let mut p = resource.splitn(7, ':');
    let parts = [p.next(), p.next(), p.next(), p.next(), p.next(), p.next(), p.next()];
    matches!(
        parts,
        [Some("arn"), Some(partition), Some("states"), Some(region), Some(account), Some("activity"), Some(name)]
            if !partition.is_empty() && !region.is_empty() && !account.is_empty() && !name.is_empty()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_the_documented_apis_and_patterns() {
        for ok in [
            "elasticmapreduce:createCluster.sync",
            "elasticmapreduce:setClusterTerminationProtection",
            "elasticmapreduce:terminateCluster",
            "sagemaker:createModel",
            "bedrock:createModelCustomizationJob",
            "bedrock:createModelCustomizationJob.sync",
            "states:startExecution.sync:2",
            "ecs:runTask.waitForTaskToken",
            "emr-serverless:startJobRun.sync",
            "aws-sdk:s3:getObject",
            "aws-sdk:dynamodb:query.waitForTaskToken",
        ] {
            assert!(is_recognised(ok), "{ok}");
        }
        for refused in [
            "dynamodb:query",
            "dynamodb:getItem.sync",
            "lambda:invoke.sync",
            "sagemaker:createModel.sync",
            "sqs:sendMessage.sync:2",
            "glue:startJobRun.waitForTaskToken",
            "aws-sdk:s3:getObject.sync",
            "lambda:invoke.later",
        ] {
            assert!(!is_recognised(refused), "{refused}");
        }
    }
}
