"""IAM policy documents (pure): trust policies, IRSA, and the add-ons' least-privilege permissions."""

from __future__ import annotations

from typing import Any

Doc = dict[str, Any]
VERSION = "2012-10-17"
AWS_MANAGED = "arn:aws:iam::aws:policy/"
NODE_MANAGED_POLICIES = (
    AWS_MANAGED + "AmazonEKSWorkerNodePolicy",
    AWS_MANAGED + "AmazonEC2ContainerRegistryPullOnly",
)
CLUSTER_MANAGED_POLICIES = (AWS_MANAGED + "AmazonEKSClusterPolicy",)
CNI_MANAGED_POLICY = AWS_MANAGED + "AmazonEKS_CNI_Policy"
EBS_CSI_MANAGED_POLICY = AWS_MANAGED + "service-role/AmazonEBSCSIDriverPolicy"
EKS_ADMIN_ACCESS_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"


def service_trust(service: str) -> Doc:
    """Only an AWS service may assume the role."""
    return {"Version": VERSION, "Statement": [{
        "Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]}


def eks_cluster_trust() -> Doc:
    """The EKS service role (it tags ENIs, so it needs sts:TagSession too)."""
    return {"Version": VERSION, "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "eks.amazonaws.com"},
        "Action": ["sts:AssumeRole", "sts:TagSession"]}]}


def issuer_host(issuer_url: str) -> str:
    """The OIDC issuer without its scheme (how IAM condition keys name it)."""
    return issuer_url.removeprefix("https://")


def irsa_trust(provider_arn: str, issuer_url: str, namespace: str, service_account: str) -> Doc:
    """One Kubernetes service account, through the cluster's OIDC provider, for STS only."""
    host = issuer_host(issuer_url)
    return {"Version": VERSION, "Statement": [{
        "Effect": "Allow",
        "Principal": {"Federated": provider_arn},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {
            f"{host}:sub": f"system:serviceaccount:{namespace}:{service_account}",
            f"{host}:aud": "sts.amazonaws.com",
        }},
    }]}


def cluster_autoscaler_policy(cluster_name: str) -> Doc:
    """Scale and terminate only this cluster's tagged groups; read-only describes elsewhere."""
    return {"Version": VERSION, "Statement": [
        {
            "Sid": "ScaleOwnGroups",
            "Effect": "Allow",
            "Action": ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"],
            "Resource": "*",
            "Condition": {"StringEquals": {f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster_name}": "owned"}},
        },
        {
            "Sid": "Describe",
            "Effect": "Allow",
            "Action": [
                "autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeAutoScalingInstances",
                "autoscaling:DescribeLaunchConfigurations", "autoscaling:DescribeScalingActivities",
                "autoscaling:DescribeTags", "ec2:DescribeImages", "ec2:DescribeInstanceTypes",
                "ec2:DescribeLaunchTemplateVersions", "ec2:GetInstanceTypesFromInstanceRequirements",
            ],
            "Resource": "*",
        },
    ]}


def s3_data_access_policy(bucket_arns: list[str], kms_key_arn: str | None) -> Doc:
    """Read, write and list only the stack's data buckets (and use their KMS key)."""
    statements: list[Doc] = [
        {"Sid": "ListStackBuckets", "Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
         "Resource": list(bucket_arns)},
        {"Sid": "ReadWriteStackObjects", "Effect": "Allow",
         "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload",
                    "s3:ListMultipartUploadParts"],
         "Resource": [f"{arn}/*" for arn in bucket_arns]},
    ]
    if kms_key_arn:
        statements.append({"Sid": "UseDataKey", "Effect": "Allow",
                           "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": kms_key_arn})
    return {"Version": VERSION, "Statement": statements}


ECR_PUSH_ACTIONS = [  # docs.aws.amazon.com/AmazonECR/latest/userguide/image-push-iam.html, plus DescribeImages
    "ecr:BatchCheckLayerAvailability", "ecr:CompleteLayerUpload", "ecr:InitiateLayerUpload", "ecr:PutImage",
    "ecr:UploadLayerPart", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:DescribeImages",
]


def ecr_push_policy(repository_arn: str) -> Doc:
    """What the image workflow needs: a registry login (account-wide by design) and push to one repository."""
    return {"Version": VERSION, "Statement": [
        {"Sid": "Login", "Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": "*"},
        {"Sid": "PushToTheStacksRepository", "Effect": "Allow", "Action": ECR_PUSH_ACTIONS, "Resource": repository_arn},
    ]}


def ecr_repository_arn(region: str, account: str, name: str) -> str:
    """An ECR repository's ARN."""
    return f"arn:aws:ecr:{region}:{account}:repository/{name}"
