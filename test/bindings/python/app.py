"""Binding smoke test: synthesize a stack with GithubOidcDeployer from the built Python wheel and check the template.

Run by test/bindings/run.sh in a fresh venv that has only the wheel from dist/python and aws-cdk-lib from PyPI.
Exits non-zero (with the failed assertion) if the construct does not synthesize what the TypeScript tests expect.
"""
import json
import tempfile

import aws_cdk as cdk
from aws_cdk import assertions
from aws_cdk import aws_s3 as s3

from cdk_serverless_llm import CdkBootstrapRole, GithubOidcDeployer, TrustFilter

SUB = "token.actions.githubusercontent.com:sub"
AUD = "token.actions.githubusercontent.com:aud"


def main() -> None:
    app = cdk.App(outdir=tempfile.mkdtemp(prefix="cdk-python-"))
    stack = cdk.Stack(app, "PythonBindingStack", env=cdk.Environment(account="111111111111", region="eu-west-1"))
    deployer = GithubOidcDeployer(
        stack,
        "Deployer",
        repository="octo-org/octo-repo",
        filters=[TrustFilter.branch("main"), TrustFilter.tag("v*")],
        max_session_duration=cdk.Duration.hours(2),
    )
    grant = deployer.grant_cdk_deploy(roles=[CdkBootstrapRole.DEPLOY, CdkBootstrapRole.FILE_PUBLISHING])
    assert grant.success, "grant_cdk_deploy did not add its statement"
    deployer.grant_asset_deploy(s3.Bucket(stack, "Site"))

    # The synthesized template, read back from the cloud assembly the app wrote.
    assembly = app.synth()
    template_json = assembly.get_stack_by_name("PythonBindingStack").template
    template = assertions.Template.from_json(template_json)

    template.resource_count_is("AWS::IAM::OIDCProvider", 1)
    template.has_resource_properties(
        "AWS::IAM::OIDCProvider",
        {"Url": "https://token.actions.githubusercontent.com", "ClientIdList": ["sts.amazonaws.com"]},
    )
    template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "MaxSessionDuration": 7200,
            "AssumeRolePolicyDocument": {
                "Statement": [
                    assertions.Match.object_like(
                        {
                            "Action": "sts:AssumeRoleWithWebIdentity",
                            "Condition": {
                                "StringEquals": {
                                    AUD: "sts.amazonaws.com",
                                    SUB: ["repo:octo-org/octo-repo:ref:refs/heads/main"],
                                }
                            },
                        }
                    ),
                    assertions.Match.object_like(
                        {
                            "Action": "sts:AssumeRoleWithWebIdentity",
                            "Condition": {
                                "StringEquals": {AUD: "sts.amazonaws.com"},
                                "StringLike": {SUB: ["repo:octo-org/octo-repo:ref:refs/tags/v*"]},
                            },
                        }
                    ),
                ]
            },
        },
    )
    template.has_resource_properties(
        "AWS::IAM::ManagedPolicy",
        {
            "PolicyDocument": {
                "Statement": assertions.Match.array_with(
                    [
                        assertions.Match.object_like(
                            {
                                "Action": "sts:AssumeRole",
                                "Condition": {
                                    "StringEquals": {
                                        "iam:ResourceTag/aws-cdk:bootstrap-role": ["deploy", "file-publishing"]
                                    }
                                },
                            }
                        ),
                        assertions.Match.object_like({"Action": ["s3:DeleteObject", "s3:PutObject"]}),
                    ]
                )
            }
        },
    )

    outputs = template.find_outputs("*")
    snippet = next(v for k, v in outputs.items() if k.startswith("DeployerWorkflowSnippet"))
    snippet_text = json.dumps(snippet["Value"])
    assert "id-token: write" in snippet_text, snippet_text
    assert "aws-actions/configure-aws-credentials" in snippet_text, snippet_text
    assert deployer.allowed_subjects == [
        "repo:octo-org/octo-repo:ref:refs/heads/main",
        "repo:octo-org/octo-repo:ref:refs/tags/v*",
    ], deployer.allowed_subjects

    # Misuse is a synth-time error with the construct's own message, across the language boundary.
    try:
        GithubOidcDeployer(stack, "Bad", repository="octo-org/*", filters=[TrustFilter.branch("main")])
    except Exception as error:  # jsii raises the JavaScript error as a RuntimeError
        assert "contains a wildcard" in str(error), str(error)
    else:
        raise AssertionError("a wildcard repository was accepted")

    print(f"python: synthesized {len(template_json['Resources'])} resources; trust, grants and outputs as expected")


if __name__ == "__main__":
    main()
